/**
 * coupon-issuer: FCFS issuance. Requests of one coupon share a key, so they arrive on one
 * partition in the order they were accepted, and this handler grants them in that order while
 * stock lasts. One coupon per user is a unique constraint (user_coupons), not only a check.
 */
import type { Tx } from "../platform/db.ts";
import type { DecodedEvent, Service } from "../platform/consumer.ts";
import type { Logger } from "../platform/log.ts";
import { uuidv7 } from "../platform/uuidv7.ts";
import { type PayloadOf, publish } from "../events/catalog.ts";
import { topicFor } from "../events/topics.ts";

async function onIssueRequested(tx: Tx, event: DecodedEvent, log: Logger): Promise<void> {
  const { requestId, couponId, userId } = event.payload as PayloadOf<"CouponIssueRequested">;
  // The coupon row lock serialises issuance of one coupon even if its partition were ever
  // consumed by two processes during a rebalance.
  const [coupon] = await tx<{ total: number; issued: number; expired: boolean }[]>`
    select total_quantity as total, issued_quantity as issued,
           coalesce(expires_at <= now(), false) as expired
    from coupons where id = ${couponId} for update`;
  const [request] = await tx<{ status: string }[]>`
    select status from coupon_requests where id = ${requestId} for update`;
  if (!coupon || !request) throw new Error(`request ${requestId} or coupon ${couponId} not found`);
  if (request.status !== "PENDING") return; // already decided (e.g. replayed from a DLQ)

  const reject = async (reason: "SOLD_OUT" | "EXPIRED") => {
    await tx`
      update coupon_requests set status = 'REJECTED', reason = ${reason}, updated_at = now()
      where id = ${requestId}`;
    await publish(tx, [{
      type: "CouponIssueRejected",
      payload: { requestId, couponId, userId, reason },
    }], event.traceparent);
    log.info("coupon request rejected", { requestId, couponId, reason });
  };
  if (coupon.expired) return await reject("EXPIRED");
  if (coupon.issued >= coupon.total) return await reject("SOLD_OUT");

  const [granted] = await tx<{ id: string }[]>`
    insert into user_coupons (id, coupon_id, user_id) values (${uuidv7()}, ${couponId}, ${userId})
    on conflict (coupon_id, user_id) do nothing returning id`;
  let userCouponId = granted?.id;
  if (granted) {
    await tx`update coupons set issued_quantity = issued_quantity + 1 where id = ${couponId}`;
  } else {
    // The user already holds this coupon (only possible through data written outside the API,
    // which allows one request per user): the request is satisfied by that coupon.
    [{ id: userCouponId }] = await tx<{ id: string }[]>`
      select id from user_coupons where coupon_id = ${couponId} and user_id = ${userId}`;
  }
  await tx`
    update coupon_requests set status = 'ISSUED', user_coupon_id = ${userCouponId}, updated_at = now()
    where id = ${requestId}`;
  await publish(tx, [{
    type: "CouponIssued",
    payload: { requestId, couponId, userId, userCouponId: userCouponId! },
  }], event.traceparent);
  log.info("coupon issued", { requestId, couponId, userCouponId });
}

export const couponIssuer: Service = {
  group: "coupon-issuer",
  topics: [topicFor("coupon-issue")],
  handlers: { CouponIssueRequested: onIssueRequested },
};
