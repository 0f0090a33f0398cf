/**
 * order-saga: collects the participants' replies (inventory, coupon, payment) for each order and
 * decides: CONFIRMED when every required step succeeded (coupon only if the order has one),
 * CANCELLED with the first failure as cancelReason otherwise, emitting OrderConfirmed or
 * OrderCancelled. Replies of one order arrive on three topics, possibly at once; the order row
 * lock serialises them.
 */
import type { Tx } from "../platform/db.ts";
import { type DecodedEvent, eachEvent, type Service } from "../platform/consumer.ts";
import type { Logger } from "../platform/log.ts";
import { type FailureReason, publish } from "../events/catalog.ts";
import { topicFor } from "../events/topics.ts";

type Step = "inventory" | "coupon" | "payment";

function reply(step: Step, ok: boolean) {
  return async (tx: Tx, event: DecodedEvent, log: Logger): Promise<void> => {
    const { orderId, reason } = event.payload as { orderId: string; reason?: FailureReason };
    const [order] = await tx<{ status: string; user_id: string; user_coupon_id: string | null }[]>`
      select status, user_id, user_coupon_id from orders where id = ${orderId}`;
    if (!order) throw new Error(`order ${orderId} not found`);
    await tx`
      insert into order_steps (order_id, step, ok, reason)
      values (${orderId}, ${step}, ${ok}, ${reason ?? null})
      on conflict (order_id, step) do nothing`;
    if (order.status !== "PENDING") return; // decided already; participants compensate on their own

    if (!ok) {
      await tx`
        update orders set status = 'CANCELLED', cancel_reason = ${reason!}, updated_at = now()
        where id = ${orderId}`;
      await publish(tx, [{
        type: "OrderCancelled",
        payload: { orderId, userId: order.user_id, reason: reason! },
      }], event.traceparent);
      log.info("order cancelled", { orderId, reason, step });
      return;
    }
    const required: Step[] = order.user_coupon_id
      ? ["inventory", "coupon", "payment"]
      : ["inventory", "payment"];
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
 * Locks every order the run replies to, in one statement in id order: replies of one order
 * arrive on three topics at once, and this lock serialises them without deadlocks.
 */
async function lockOrders(tx: Tx, events: DecodedEvent[]): Promise<void> {
  const ids = [...new Set(events.map((e) => (e.payload as { orderId: string }).orderId))];
  await tx`select 1 from orders where id = any(${ids}::uuid[]) order by id for no key update`;
}

export const orderSaga: Service = {
  group: "order-saga",
  topics: [topicFor("inventory"), topicFor("coupon-redemption"), topicFor("payment")],
  ...eachEvent({
    lock: lockOrders,
    handlers: {
      InventoryReserved: reply("inventory", true),
      InventoryRejected: reply("inventory", false),
      CouponRedeemed: reply("coupon", true),
      CouponRedemptionRejected: reply("coupon", false),
      PaymentCompleted: reply("payment", true),
      PaymentFailed: reply("payment", false),
    },
  }),
};
