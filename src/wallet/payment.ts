/**
 * payment: debits an order's paymentAmount from the wallet (INSUFFICIENT_BALANCE if short) and
 * refunds it when the order is cancelled. One payment row per order makes each step happen at
 * most once, and a cancellation seen first prevents the debit.
 */
import type { Tx } from "../platform/db.ts";
import type { DecodedEvent, Service } from "../platform/consumer.ts";
import type { Logger } from "../platform/log.ts";
import { type PayloadOf, publish } from "../events/catalog.ts";
import { topicFor } from "../events/topics.ts";

async function onOrderCreated(tx: Tx, event: DecodedEvent, log: Logger): Promise<void> {
  const { orderId, userId, paymentAmount: amount } = event.payload as PayloadOf<"OrderCreated">;
  const [existing] = await tx`select status from payments where order_id = ${orderId}`;
  if (existing) return;

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

async function onOrderCancelled(tx: Tx, event: DecodedEvent, log: Logger): Promise<void> {
  const { orderId, userId } = event.payload as PayloadOf<"OrderCancelled">;
  const [p] = await tx<{ status: string; amount: number }[]>`
    select status, amount from payments where order_id = ${orderId} for update`;
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

export const payment: Service = {
  group: "payment",
  topics: [topicFor("order")],
  handlers: { OrderCreated: onOrderCreated, OrderCancelled: onOrderCancelled },
};
