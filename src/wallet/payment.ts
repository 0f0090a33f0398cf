/**
 * payment: debits an order's paymentAmount from the wallet (INSUFFICIENT_BALANCE if short) and
 * refunds it when the order is cancelled. One payment row per order makes each step happen at
 * most once, and a cancellation seen first prevents the debit.
 */
import type { Tx } from "../platform/db.ts";
import { defineService } from "../platform/service.ts";
import type { Logger } from "../platform/log.ts";
import { type Event, EVENTS } from "../events/catalog.ts";
import { publish } from "../events/publish.ts";
import { topicFor } from "../events/topics.ts";
import { consumerMetrics } from "../platform/metrics.ts";

async function onOrderCreated(tx: Tx, event: Event<"OrderCreated">, log: Logger): Promise<void> {
  const { orderId, userId, paymentAmount: amount, deadlineAt } = event.payload;
  const [step] = await tx<{ status: string | null; expired: boolean }[]>`
    select (select status from payments where order_id = ${orderId}) as status,
           coalesce(now() >= ${deadlineAt ?? null}::timestamptz, false) as expired`;
  if (step.status) {
    consumerMetrics.late.inc({ group: "payment", type: event.type, why: "decided" });
    return;
  }
  if (step.expired) {
    // The saga gives up on the order at its deadline: a debit now would only be refunded.
    await tx`
      insert into payments (order_id, user_id, amount, status)
      values (${orderId}, ${userId}, 0, 'CANCELLED')`;
    consumerMetrics.late.inc({ group: "payment", type: event.type, why: "expired" });
    log.info("order past its deadline; nothing debited", { orderId });
    return;
  }

  const debited = amount === 0 ? [{}] : await tx`
    update wallets set balance = balance - ${amount}, updated_at = now()
    where user_id = ${userId} and balance >= ${amount}
    returning balance`;
  if (debited.length === 0) {
    await tx`
      insert into payments (order_id, user_id, amount, status)
      values (${orderId}, ${userId}, ${amount}, 'FAILED')`;
    await publish(tx, [{
      type: "PaymentFailed",
      payload: { orderId, userId, reason: "INSUFFICIENT_BALANCE" },
    }], event.traceparent);
    log.info("payment failed", { orderId, amount });
    return;
  }
  await tx`
    insert into payments (order_id, user_id, amount, status)
    values (${orderId}, ${userId}, ${amount}, 'PAID')`;
  await publish(
    tx,
    [{ type: "PaymentCompleted", payload: { orderId, userId, amount } }],
    event.traceparent,
  );
  log.info("payment completed", { orderId, amount });
}

async function onOrderCancelled(
  tx: Tx,
  event: Event<"OrderCancelled">,
  log: Logger,
): Promise<void> {
  const { orderId, userId } = event.payload;
  const [p] = await tx<{ status: string; amount: number }[]>`
    select status, amount from payments where order_id = ${orderId}`;
  if (!p) {
    await tx`
      insert into payments (order_id, user_id, amount, status)
      values (${orderId}, ${userId}, 0, 'CANCELLED')`;
    log.info("cancelled before payment; it will not happen", { orderId });
    return;
  }
  if (p.status !== "PAID") return;
  if (p.amount > 0) {
    await tx`
      update wallets set balance = balance + ${p.amount}, updated_at = now() where user_id = ${userId}`;
  }
  await tx`update payments set status = 'REFUNDED', updated_at = now() where order_id = ${orderId}`;
  await publish(
    tx,
    [{ type: "PaymentRefunded", payload: { orderId, userId, amount: p.amount } }],
    event.traceparent,
  );
  log.info("payment refunded", { orderId, amount: p.amount });
}

/**
 * Locks what the run will change before any change, one statement per table in key order: the
 * payments its cancellations refund, then the wallet of every user in the run.
 */
async function lockWallets(
  tx: Tx,
  events: Event<"OrderCreated" | "OrderCancelled">[],
): Promise<void> {
  const cancelled = events.filter((e) => e.type === "OrderCancelled").map((e) => e.payload.orderId);
  if (cancelled.length > 0) {
    await tx`
      select 1 from payments where order_id = any(${cancelled}::uuid[]) order by order_id
      for no key update`;
  }
  const users = [...new Set(events.map((e) => e.payload.userId))];
  await tx`
    select 1 from wallets where user_id = any(${users}::text[]) order by user_id
    for no key update`;
}

export const payment = defineService(EVENTS, {
  group: "payment",
  role: "shop_payment",
  topics: [topicFor("order")],
  lock: lockWallets,
  handlers: { OrderCreated: onOrderCreated, OrderCancelled: onOrderCancelled },
});
