/**
 * order-saga: collects the participants' replies (inventory, coupon, payment) for each order and
 * decides: CONFIRMED when every required step succeeded (coupon only if the order has one),
 * CANCELLED with the first failure as cancelReason otherwise, emitting OrderConfirmed or
 * OrderCancelled. Replies of one order arrive on three topics, possibly at once; the order row
 * lock serialises them. An order still PENDING at its deadline is cancelled with TIMEOUT by a
 * sweep (`sweepOverdueOrders`); a reply that arrives after that only records its step, and the
 * participant undoes its own work on OrderCancelled like for any other cancellation.
 */
import type { Sql, Tx } from "../platform/db.ts";
import { defineService } from "../platform/service.ts";
import type { Logger } from "../platform/log.ts";
import { type Event, EVENTS } from "../events/catalog.ts";
import { publish } from "../events/publish.ts";
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

function reply(step: Step, ok: boolean) {
  return async (tx: Tx, event: Event<Reply>, log: Logger): Promise<void> => {
    const { orderId } = event.payload;
    const reason = "reason" in event.payload ? event.payload.reason : undefined;
    const [order] = await tx<{ status: string; user_id: string; user_coupon_id: string | null }[]>`
      select status, user_id, user_coupon_id from orders where id = ${orderId}`;
    if (!order) throw new NotVisibleYet(`order ${orderId} not found`);
    await tx`
      insert into order_steps (order_id, step, ok, reason)
      values (${orderId}, ${step}, ${ok}, ${reason ?? null})
      on conflict (order_id, step) do nothing`;
    if (order.status !== "PENDING") {
      // Decided already (e.g. timed out): participants compensate on their own.
      consumerMetrics.late.inc({ group: "order-saga", type: event.type, why: "decided" });
      return;
    }

    if (!ok) {
      await tx`
        update orders set status = 'CANCELLED', cancel_reason = ${reason!}, updated_at = now()
        where id = ${orderId}`;
      await publish(tx, [{
        type: "OrderCancelled",
        payload: {
          orderId,
          userId: order.user_id,
          userCouponId: order.user_coupon_id,
          reason: reason!,
        },
      }], event.traceparent);
      log.info("order cancelled", { orderId, reason, step });
      return;
    }
    const required = requiredSteps(order.user_coupon_id !== null);
    const steps = await tx<{ step: Step; ok: boolean }[]>`
      select step, ok from order_steps where order_id = ${orderId}`;
    const succeeded = new Set(steps.filter((s) => s.ok).map((s) => s.step));
    if (!required.every((s) => succeeded.has(s))) return;
    await tx`update orders set status = 'CONFIRMED', updated_at = now() where id = ${orderId}`;
    await publish(
      tx,
      [{ type: "OrderConfirmed", payload: { orderId, userId: order.user_id } }],
      event.traceparent,
    );
    log.info("order confirmed", { orderId });
  };
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

/**
 * Locks every order the run replies to, in one statement in id order: replies of one order
 * arrive on three topics at once, and this lock serialises them without deadlocks.
 */
async function lockOrders(tx: Tx, events: Event<Reply>[]): Promise<void> {
  const ids = [...new Set(events.map((e) => e.payload.orderId))];
  await tx`select 1 from orders where id = any(${ids}::uuid[]) order by id for no key update`;
}

export const orderSaga = defineService(EVENTS, {
  group: "order-saga",
  role: "shop_order_saga",
  topics: [topicFor("inventory"), topicFor("coupon-redemption"), topicFor("payment")],
  lock: lockOrders,
  handlers: {
    InventoryReserved: reply("inventory", true),
    InventoryRejected: reply("inventory", false),
    CouponRedeemed: reply("coupon", true),
    CouponRedemptionRejected: reply("coupon", false),
    PaymentCompleted: reply("payment", true),
    PaymentFailed: reply("payment", false),
  },
  // A tenth of the deadline (100 ms .. 1 s): an order is cancelled at most that late.
  jobs: (sql, cfg, log) => [{
    name: "order deadline sweep",
    everyMs: Math.min(1000, Math.max(100, Math.round(cfg.orderDeadlineMs / 10))),
    run: () => sweepOverdueOrders(sql, log),
  }],
});
