/**
 * payment: debits an order's paymentAmount from the wallet (INSUFFICIENT_BALANCE if short) and
 * refunds it when the order is cancelled. One payment row per order makes each step happen at
 * most once, and a cancellation seen first prevents the debit.
 *
 * A run is decided set-based: one statement reads and locks the run's payments (with the
 * database clock), one the wallets of its users, both in key order; every event is then decided
 * in memory in offset order, each seeing the balances and payments the ones before it left; one
 * statement writes balances, payments and outbox events.
 */
import type { Tx } from "../platform/db.ts";
import { defineService, eventLog } from "../platform/service.ts";
import type { Logger } from "../platform/log.ts";
import { type Event, EVENTS } from "../events/catalog.ts";
import { type Publishable, publishQuery } from "../events/publish.ts";
import { topicFor } from "../events/topics.ts";
import { consumerMetrics } from "../platform/metrics.ts";
import { isPastDeadline, type RunClock } from "../platform/run_clock.ts";
import { splitBy } from "../platform/split_by.ts";
import { recordChanges } from "../platform/run_changes.ts";

type PaymentStatus = "PAID" | "FAILED" | "REFUNDED" | "CANCELLED";

interface Payment {
  userId: string;
  amount: number;
  status: PaymentStatus;
}

type PaymentEvent = Event<"OrderCreated" | "OrderCancelled">;

/** What a run starts from: its payments and the balance of every wallet of its users. */
export interface PaymentState {
  payments: Map<string, Payment>;
  balances: Map<string, number>;
}

/** What a run leaves: the rows it changed and the events it publishes, in offset order. */
export interface PaymentChanges {
  payments: Map<string, Payment>;
  balances: Map<string, number>;
  events: Publishable[];
}

/**
 * Decides a run in offset order against `state`, which it updates as it goes (a later event of
 * the run sees what an earlier one did). Pure but for metrics and logs.
 */
export function decidePayments(
  state: PaymentState,
  events: PaymentEvent[],
  clock: RunClock,
  log: Logger,
): PaymentChanges {
  const out: PaymentChanges = { payments: new Map(), balances: new Map(), events: [] };
  const record = recordChanges(state.payments, out.payments);
  const setBalance = recordChanges(state.balances, out.balances);
  for (const event of events) {
    const elog = eventLog(log, event);
    const { orderId, userId } = event.payload;
    const paid = state.payments.get(orderId);
    if (event.type === "OrderCreated") {
      const amount = event.payload.paymentAmount;
      if (paid) {
        consumerMetrics.late.inc({ group: "payment", type: event.type, why: "decided" });
        continue;
      }
      if (isPastDeadline(clock, event.payload.deadlineAt)) {
        // The saga gives up on the order at its deadline: a debit now would only be refunded.
        record(orderId, { userId, amount: 0, status: "CANCELLED" });
        consumerMetrics.late.inc({ group: "payment", type: event.type, why: "expired" });
        elog.info("order past its deadline; nothing debited", { orderId });
        continue;
      }
      // Nothing to pay needs no wallet.
      const balance = state.balances.get(userId);
      if (amount > 0 && (balance === undefined || balance < amount)) {
        record(orderId, { userId, amount, status: "FAILED" });
        out.events.push({
          type: "PaymentFailed",
          payload: { orderId, userId, reason: "INSUFFICIENT_BALANCE" },
          traceparent: event.traceparent ?? null,
        });
        elog.info("payment failed", { orderId, amount });
        continue;
      }
      if (amount > 0) setBalance(userId, balance! - amount);
      record(orderId, { userId, amount, status: "PAID" });
      out.events.push({
        type: "PaymentCompleted",
        payload: { orderId, userId, amount },
        traceparent: event.traceparent ?? null,
      });
      elog.info("payment completed", { orderId, amount });
    } else {
      if (!paid) {
        record(orderId, { userId, amount: 0, status: "CANCELLED" });
        elog.info("cancelled before payment; it will not happen", { orderId });
        continue;
      }
      if (paid.status !== "PAID") continue;
      // The refund goes to the cancelled order's user; a wallet gone takes nothing back.
      const balance = state.balances.get(userId);
      if (paid.amount > 0 && balance !== undefined) setBalance(userId, balance + paid.amount);
      record(orderId, { ...paid, status: "REFUNDED" });
      out.events.push({
        type: "PaymentRefunded",
        payload: { orderId, userId, amount: paid.amount },
        traceparent: event.traceparent ?? null,
      });
      elog.info("payment refunded", { orderId, amount: paid.amount });
    }
  }
  return out;
}

/**
 * Reads and locks what the run may change, one statement per table in key order: the run's
 * payments (with the clock), then the wallet of every user in the run.
 */
async function readPayments(
  tx: Tx,
  events: PaymentEvent[],
): Promise<{ state: PaymentState; clock: RunClock }> {
  const orderIds = [...new Set(events.map((e) => e.payload.orderId))];
  const [read] = await tx<
    {
      now: Date;
      payments: { order_id: string; user_id: string; amount: number; status: PaymentStatus }[];
    }[]
  >`
    select date_trunc('milliseconds', now()) as now,
           (select coalesce(json_agg(p), '[]') from (
              select order_id, user_id, amount, status from payments
              where order_id = any(${orderIds}::uuid[]) order by order_id for no key update
            ) p) as payments`;
  const users = [...new Set(events.map((e) => e.payload.userId))];
  const wallets = await tx<{ user_id: string; balance: string }[]>`
    select user_id, balance from wallets where user_id = any(${users}::text[]) order by user_id
    for no key update`;
  return {
    state: {
      payments: new Map(
        read.payments.map((p) => [
          p.order_id,
          { userId: p.user_id, amount: Number(p.amount), status: p.status },
        ]),
      ),
      balances: new Map(wallets.map((w) => [w.user_id, Number(w.balance)])),
    },
    clock: { now: read.now },
  };
}

/**
 * One statement: balances, payments and the run's events. A payment the run read is updated; a
 * new one is inserted, never upserted: if another transaction inserted it since (two consumers
 * of one partition during a rebalance), the unique key fails the run, which is then retried and
 * sees that row, as one event at a time would.
 */
async function writePayments(
  tx: Tx,
  changes: PaymentChanges,
  existed: Set<string>,
): Promise<void> {
  const balances = [...changes.balances];
  const [updated, inserted] = splitBy([...changes.payments], ([id]) => existed.has(id));
  if (balances.length === 0 && changes.payments.size === 0 && changes.events.length === 0) {
    return;
  }
  const events = publishQuery(tx, changes.events);
  await tx`
    with balances as (
      update wallets w set balance = v.balance, updated_at = now()
      from unnest(${balances.map(([id]) => id)}::text[], ${balances.map(([, b]) => b)}::bigint[])
        as v(user_id, balance)
      where w.user_id = v.user_id
    ), inserted as (
      insert into payments (order_id, user_id, amount, status)
      select * from unnest(${inserted.map(([id]) => id)}::uuid[],
                           ${inserted.map(([, p]) => p.userId)}::text[],
                           ${inserted.map(([, p]) => p.amount)}::bigint[],
                           ${inserted.map(([, p]) => p.status)}::text[])
    ), updated as (
      update payments p set status = v.status, updated_at = now()
      from unnest(${updated.map(([id]) => id)}::uuid[], ${updated.map(([, p]) => p.status)}::text[])
        as v(order_id, status)
      where p.order_id = v.order_id
    )
    ${events.query}`;
}

async function applyRun(tx: Tx, events: PaymentEvent[], log: Logger): Promise<void> {
  const { state, clock } = await readPayments(tx, events);
  const existed = new Set(state.payments.keys());
  await writePayments(tx, decidePayments(state, events, clock, log), existed);
}

export const payment = defineService(EVENTS, {
  group: "payment",
  role: "shop_payment",
  topics: [topicFor("order")],
  types: ["OrderCreated", "OrderCancelled"],
  apply: applyRun,
});
