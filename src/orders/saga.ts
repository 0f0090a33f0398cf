/**
 * order-saga: collects the participants' replies (inventory, coupon, payment) for each order and
 * decides: CONFIRMED when every required step succeeded (coupon only if the order has one),
 * CANCELLED with the first failure as cancelReason otherwise, emitting OrderConfirmed or
 * OrderCancelled. Replies of one order arrive on three topics, possibly at once; the order row
 * lock serialises them. An order still PENDING at its deadline is cancelled with TIMEOUT by a
 * sweep (`sweepOverdueOrders`); a reply that arrives after that only records its step, and the
 * participant undoes its own work on OrderCancelled like for any other cancellation.
 *
 * A run of replies is decided set-based: one statement reads and locks its orders with their
 * steps, in id order; every reply is then decided in memory in offset order; one statement
 * writes the new steps, the decided orders and the outbox events.
 */
import type { Sql, Tx } from "../platform/db.ts";
import { defineService, eventLog } from "../platform/service.ts";
import type { Logger } from "../platform/log.ts";
import { CancelReason, type Event, EVENTS } from "../events/catalog.ts";
import { publish, type Publishable, publishQuery } from "../events/publish.ts";
import { childTraceparent } from "../platform/trace.ts";
import { orderTimeouts } from "./metrics.ts";
import { consumerMetrics } from "../platform/metrics.ts";
import { NotVisibleYet } from "../platform/errors.ts";
import { topicFor } from "../events/topics.ts";

type Step = "inventory" | "coupon" | "payment";

const requiredSteps = (hasCoupon: boolean): Step[] =>
  hasCoupon ? ["inventory", "coupon", "payment"] : ["inventory", "payment"];

/** The participants' replies: each carries the order id, a failure also its reason. */
type Reply =
  | "InventoryReserved"
  | "InventoryRejected"
  | "CouponRedeemed"
  | "CouponRedemptionRejected"
  | "PaymentCompleted"
  | "PaymentFailed";

const STEP_OF: Record<Reply, { step: Step; ok: boolean }> = {
  InventoryReserved: { step: "inventory", ok: true },
  InventoryRejected: { step: "inventory", ok: false },
  CouponRedeemed: { step: "coupon", ok: true },
  CouponRedemptionRejected: { step: "coupon", ok: false },
  PaymentCompleted: { step: "payment", ok: true },
  PaymentFailed: { step: "payment", ok: false },
};

type OrderStatus = "PENDING" | "CONFIRMED" | "CANCELLED";

interface SagaOrder {
  status: OrderStatus;
  userId: string;
  userCouponId: string | null;
  cancelReason: CancelReason | null;
  /** Each step's first reply: a later copy of a step changes nothing. */
  steps: Map<Step, { ok: boolean; reason: string | null }>;
}

/** What a run leaves: the rows it changed and the events it publishes, in offset order. */
export interface SagaChanges {
  /** Orders decided by the run. */
  orders: Map<string, SagaOrder>;
  /** Steps first recorded by the run. */
  steps: { orderId: string; step: Step; ok: boolean; reason: string | null }[];
  events: Publishable[];
}

/**
 * Decides a run of replies in offset order against `orders` (every order the run replies to),
 * which it updates as it goes. Pure but for metrics and logs.
 */
export function decideOrders(
  orders: Map<string, SagaOrder>,
  events: Event<Reply>[],
  log: Logger,
): SagaChanges {
  const out: SagaChanges = { orders: new Map(), steps: [], events: [] };
  for (const event of events) {
    const elog = eventLog(log, event);
    const { step, ok } = STEP_OF[event.type];
    const { orderId } = event.payload;
    const reason = "reason" in event.payload ? event.payload.reason : null;
    const order = orders.get(orderId);
    if (!order) throw new NotVisibleYet(`order ${orderId} not found`);
    if (!order.steps.has(step)) {
      order.steps.set(step, { ok, reason });
      out.steps.push({ orderId, step, ok, reason });
    }
    if (order.status !== "PENDING") {
      // Decided already (e.g. timed out): participants compensate on their own.
      consumerMetrics.late.inc({ group: "order-saga", type: event.type, why: "decided" });
      continue;
    }
    if (!ok) {
      order.status = "CANCELLED";
      order.cancelReason = reason as CancelReason;
      out.orders.set(orderId, order);
      out.events.push({
        type: "OrderCancelled",
        payload: {
          orderId,
          userId: order.userId,
          userCouponId: order.userCouponId,
          reason: reason as CancelReason,
        },
        traceparent: event.traceparent ?? null,
      });
      elog.info("order cancelled", { orderId, reason, step });
      continue;
    }
    const required = requiredSteps(order.userCouponId !== null);
    if (!required.every((s) => order.steps.get(s)?.ok)) continue;
    order.status = "CONFIRMED";
    out.orders.set(orderId, order);
    out.events.push({
      type: "OrderConfirmed",
      payload: { orderId, userId: order.userId },
      traceparent: event.traceparent ?? null,
    });
    elog.info("order confirmed", { orderId });
  }
  return out;
}

/**
 * Reads and locks every order the run replies to, in one statement in id order (replies of one
 * order arrive on three topics at once, and this lock serialises them without deadlocks), then
 * their steps. The steps are a second statement on purpose: its snapshot is taken once the locks
 * are held, so it sees the steps a run that held an order's lock before committed.
 */
async function readOrders(tx: Tx, events: Event<Reply>[]): Promise<Map<string, SagaOrder>> {
  const ids = [...new Set(events.map((e) => e.payload.orderId))];
  const rows = await tx<{
    id: string;
    status: OrderStatus;
    user_id: string;
    user_coupon_id: string | null;
    cancel_reason: CancelReason | null;
  }[]>`
    select id, status, user_id, user_coupon_id, cancel_reason
    from orders where id = any(${ids}::uuid[]) order by id
    for no key update`;
  const orders = new Map<string, SagaOrder>(rows.map((r) => [r.id, {
    status: r.status,
    userId: r.user_id,
    userCouponId: r.user_coupon_id,
    cancelReason: r.cancel_reason,
    steps: new Map(),
  }]));
  if (orders.size === 0) return orders;
  const steps = await tx<{ order_id: string; step: Step; ok: boolean; reason: string | null }[]>`
    select order_id, step, ok, reason from order_steps where order_id = any(${[
    ...orders.keys(),
  ]}::uuid[])`;
  for (const s of steps) orders.get(s.order_id)!.steps.set(s.step, { ok: s.ok, reason: s.reason });
  return orders;
}

/** One statement: the steps first seen, the orders decided and the run's events. */
async function writeOrders(tx: Tx, changes: SagaChanges): Promise<void> {
  const orders = [...changes.orders];
  const { steps } = changes;
  if (orders.length === 0 && steps.length === 0 && changes.events.length === 0) return;
  const events = publishQuery(tx, changes.events);
  await tx`
    with steps as (
      insert into order_steps (order_id, step, ok, reason)
      select * from unnest(${steps.map((s) => s.orderId)}::uuid[], ${
    steps.map((s) => s.step)
  }::text[],
                           ${steps.map((s) => String(s.ok))}::text[]::bool[], ${
    steps.map((s) => s.reason)
  }::text[])
      on conflict (order_id, step) do nothing
    ), decided as (
      update orders o set status = v.status, cancel_reason = v.cancel_reason, updated_at = now()
      from unnest(${orders.map(([id]) => id)}::uuid[], ${orders.map(([, o]) => o.status)}::text[],
                  ${orders.map(([, o]) => o.cancelReason)}::text[])
        as v(id, status, cancel_reason)
      where o.id = v.id
    )
    ${events.query}`;
}

async function applyRun(tx: Tx, events: Event<Reply>[], log: Logger): Promise<void> {
  await writeOrders(tx, decideOrders(await readOrders(tx, events), events, log));
}

/**
 * Cancels up to `batch` orders still PENDING past their deadline, with TIMEOUT, in one
 * transaction with their OrderCancelled events; returns how many. Safe with several instances of
 * order-saga: the overdue rows are locked in one statement in id order with `skip locked`, so
 * two sweeps (or a sweep and a reply run) never wait on each other or take the same order. Cheap
 * when nothing is overdue: the partial index `orders_pending_deadline` answers with no rows.
 */
export async function sweepOverdueOrders(sql: Sql, log: Logger, batch = 500): Promise<number> {
  return await sql.begin(async (tx) => {
    const overdue = await tx<{
      id: string;
      user_id: string;
      user_coupon_id: string | null;
      traceparent: string | null;
      done: Step[];
    }[]>`
      with overdue as (
        select id from orders
        where status = 'PENDING' and deadline_at <= now()
        order by id limit ${batch}
        for no key update skip locked
      )
      update orders o set status = 'CANCELLED', cancel_reason = 'TIMEOUT', updated_at = now()
      from overdue where o.id = overdue.id
      returning o.id, o.user_id, o.user_coupon_id, o.traceparent,
        array(select step from order_steps s where s.order_id = o.id and s.ok) as done`;
    if (overdue.length === 0) return 0;
    // One outbox insert; each cancellation continues its order's trace.
    await publish(
      tx,
      overdue.map((o) => ({
        type: "OrderCancelled" as const,
        payload: {
          orderId: o.id,
          userId: o.user_id,
          userCouponId: o.user_coupon_id,
          reason: "TIMEOUT" as const,
        },
        traceparent: o.traceparent ? childTraceparent(o.traceparent) : null,
      })),
    );
    for (const o of overdue) {
      const missing = requiredSteps(o.user_coupon_id !== null).filter((s) => !o.done.includes(s));
      for (const step of missing) orderTimeouts.inc({ missing_step: step });
      log.info("order timed out", { orderId: o.id, missing });
    }
    return overdue.length;
  });
}

export const orderSaga = defineService(EVENTS, {
  group: "order-saga",
  role: "shop_order_saga",
  topics: [topicFor("inventory"), topicFor("coupon-redemption"), topicFor("payment")],
  types: Object.keys(STEP_OF) as Reply[],
  apply: applyRun,
  // A tenth of the deadline (100 ms .. 1 s): an order is cancelled at most that late.
  jobs: (sql, cfg, log) => [{
    name: "order deadline sweep",
    everyMs: Math.min(1000, Math.max(100, Math.round(cfg.orderDeadlineMs / 10))),
    run: () => sweepOverdueOrders(sql, log),
  }],
});
