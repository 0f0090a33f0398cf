/**
 * coupon-redeemer: marks an order's user coupon USED if the user owns it, it is AVAILABLE and
 * not expired (else COUPON_UNAVAILABLE), and restores it when the order is cancelled. Orders
 * without a coupon are not its business (the saga does not wait for it). One redemption row per
 * order makes each step happen at most once, and a cancellation seen first prevents the step.
 */
import type { Tx } from "../platform/db.ts";
import { defineService } from "../platform/service.ts";
import type { Logger } from "../platform/log.ts";
import { type Event, EVENTS } from "../events/catalog.ts";
import { publish } from "../events/publish.ts";
import { topicFor } from "../events/topics.ts";
import { consumerMetrics } from "../platform/metrics.ts";

async function onOrderCreated(tx: Tx, event: Event<"OrderCreated">, log: Logger): Promise<void> {
  const { orderId, userId, userCouponId, deadlineAt } = event.payload;
  if (!userCouponId) return;
  const [step] = await tx<{ status: string | null; expired: boolean }[]>`
    select (select status from coupon_redemptions where order_id = ${orderId}) as status,
           coalesce(now() >= ${deadlineAt ?? null}::timestamptz, false) as expired`;
  if (step.status) {
    consumerMetrics.late.inc({ group: "coupon-redeemer", type: event.type, why: "decided" });
    return;
  }
  if (step.expired) {
    // The saga gives up on the order at its deadline: using the coupon now would be undone.
    await tx`
      insert into coupon_redemptions (order_id, user_coupon_id, status)
      values (${orderId}, ${userCouponId}, 'CANCELLED')`;
    consumerMetrics.late.inc({ group: "coupon-redeemer", type: event.type, why: "expired" });
    log.info("order past its deadline; coupon not used", { orderId, userCouponId });
    return;
  }

  const [usable] = await tx<{ id: string }[]>`
    update user_coupons uc set status = 'USED', order_id = ${orderId}, used_at = now()
    from coupons c
    where uc.id = ${userCouponId} and uc.user_id = ${userId} and uc.status = 'AVAILABLE'
      and c.id = uc.coupon_id and (c.expires_at is null or c.expires_at > now())
    returning uc.id`;
  if (!usable) {
    await tx`
      insert into coupon_redemptions (order_id, user_coupon_id, status)
      values (${orderId}, ${userCouponId}, 'REJECTED')`;
    await publish(tx, [{
      type: "CouponRedemptionRejected",
      payload: { orderId, userCouponId, reason: "COUPON_UNAVAILABLE" },
    }], event.traceparent);
    log.info("coupon unavailable", { orderId, userCouponId });
    return;
  }
  await tx`
    insert into coupon_redemptions (order_id, user_coupon_id, status)
    values (${orderId}, ${userCouponId}, 'REDEEMED')`;
  await publish(
    tx,
    [{ type: "CouponRedeemed", payload: { orderId, userCouponId } }],
    event.traceparent,
  );
  log.info("coupon redeemed", { orderId, userCouponId });
}

async function onOrderCancelled(
  tx: Tx,
  event: Event<"OrderCancelled">,
  log: Logger,
): Promise<void> {
  const { orderId, userCouponId } = event.payload;
  const [r] = await tx<{ status: string; user_coupon_id: string }[]>`
    select status, user_coupon_id from coupon_redemptions where order_id = ${orderId}`;
  if (!r) {
    // Cancelled before its redemption: record that it must not happen. Only orders with a coupon
    // matter; an event that does not say (written before it carried the coupon) may have one.
    if (userCouponId !== null) {
      await tx`
        insert into coupon_redemptions (order_id, user_coupon_id, status)
        values (${orderId}, ${userCouponId ?? null}, 'CANCELLED')`;
      log.info("cancelled before redemption; it will not happen", { orderId });
    }
    return;
  }
  if (r.status !== "REDEEMED") return;
  await tx`
    update user_coupons set status = 'AVAILABLE', order_id = null, used_at = null
    where id = ${r.user_coupon_id} and order_id = ${orderId}`;
  await tx`update coupon_redemptions set status = 'RESTORED', updated_at = now() where order_id = ${orderId}`;
  await publish(tx, [{
    type: "CouponRestored",
    payload: { orderId, userCouponId: r.user_coupon_id },
  }], event.traceparent);
  log.info("coupon restored", { orderId, userCouponId: r.user_coupon_id });
}

/**
 * Locks what the run will change before any change, one statement per table in key order: the
 * redemptions its cancellations undo, then every user coupon its orders redeem or restore.
 */
async function lockUserCoupons(
  tx: Tx,
  events: Event<"OrderCreated" | "OrderCancelled">[],
): Promise<void> {
  const ids = new Set<string>();
  const cancelled: string[] = [];
  for (const e of events) {
    if (e.type === "OrderCreated") {
      const { userCouponId } = e.payload;
      if (userCouponId) ids.add(userCouponId);
    } else cancelled.push(e.payload.orderId);
  }
  if (cancelled.length > 0) {
    const redemptions = await tx<{ status: string; user_coupon_id: string }[]>`
      select status, user_coupon_id from coupon_redemptions
      where order_id = any(${cancelled}::uuid[]) order by order_id for no key update`;
    for (const r of redemptions) if (r.status === "REDEEMED") ids.add(r.user_coupon_id);
  }
  if (ids.size === 0) return;
  await tx`
    select 1 from user_coupons where id = any(${[...ids]}::uuid[]) order by id
    for no key update`;
}

export const couponRedeemer = defineService(EVENTS, {
  group: "coupon-redeemer",
  role: "shop_coupon_redeemer",
  topics: [topicFor("order")],
  lock: lockUserCoupons,
  handlers: { OrderCreated: onOrderCreated, OrderCancelled: onOrderCancelled },
});
