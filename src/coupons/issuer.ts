/**
 * coupon-issuer: FCFS issuance. Requests of one coupon share a key, so they arrive on one
 * partition in the order they were accepted, and this handler grants them in that order while
 * stock lasts. One coupon per user is a unique constraint (user_coupons), not only a check.
 */
import type { Tx } from "../platform/db.ts";
import type { DecodedEvent, Service } from "../platform/consumer.ts";
import type { Logger } from "../platform/log.ts";
import { uuidv7 } from "../platform/uuidv7.ts";
import { type PayloadOf, type Publishable, toOutbox } from "../events/catalog.ts";
import { appendEvents } from "../platform/outbox.ts";
import { topicFor } from "../events/topics.ts";

/**
 * Decides a run of requests (a single record is a run of one), set-based: every coupon of the
 * run locked up front in one statement in id order, then per coupon one look at the remaining
 * quantity, the first `remaining` PENDING requests (in offset order) granted with one insert, the
 * rest rejected with one update, and every outcome event in one outbox insert. A request that is
 * no longer PENDING (a replay from the DLQ) changes nothing.
 */
async function decideRequests(tx: Tx, events: DecodedEvent[], log: Logger): Promise<void> {
  const byCoupon = new Map<
    string,
    { payload: PayloadOf<"CouponIssueRequested">; traceparent?: string }[]
  >();
  for (const e of events) {
    const payload = e.payload as PayloadOf<"CouponIssueRequested">;
    const list = byCoupon.get(payload.couponId) ?? [];
    list.push({ payload, traceparent: e.traceparent });
    byCoupon.set(payload.couponId, list);
  }
  // The coupon row lock serialises issuance of one coupon even if its partition were ever
  // consumed by two processes during a rebalance.
  const coupons = new Map(
    (await tx<{ id: string; total: number; issued: number; expired: boolean }[]>`
      select id, total_quantity as total, issued_quantity as issued,
             coalesce(expires_at <= now(), false) as expired
      from coupons where id = any(${[...byCoupon.keys()]}::uuid[]) order by id
      for no key update`).map((c) => [c.id, c]),
  );
  for (const [couponId, requests] of byCoupon) {
    const coupon = coupons.get(couponId);
    if (!coupon) throw new Error(`coupon ${couponId} not found`);
    const ids = requests.map((r) => r.payload.requestId);
    const pendingRows = await tx<{ id: string }[]>`
      select id from coupon_requests where id = any(${ids}::uuid[]) and status = 'PENDING'
      order by id for no key update`;
    if (pendingRows.length !== new Set(ids).size) {
      const found = await tx<
        { id: string }[]
      >`select id from coupon_requests where id = any(${ids}::uuid[])`;
      if (found.length !== new Set(ids).size) {
        throw new Error(`a request of coupon ${couponId} was not found`);
      }
    }
    const pending = new Set(pendingRows.map((r) => r.id));
    const todo = requests.filter((r) => pending.delete(r.payload.requestId)); // offset order, once
    const room = coupon.expired ? 0 : Math.max(0, coupon.total - coupon.issued);
    const grant = todo.slice(0, room);
    const reject = todo.slice(room);
    const reason = coupon.expired ? "EXPIRED" as const : "SOLD_OUT" as const;

    const outcomes: Publishable[] = [];
    if (grant.length > 0) {
      const newIds = grant.map(() => uuidv7());
      const inserted = await tx<{ id: string; user_id: string }[]>`
        insert into user_coupons (id, coupon_id, user_id)
        select id, ${couponId}, user_id
        from unnest(${newIds}::uuid[], ${
        grant.map((g) => g.payload.userId)
      }::text[]) as g(id, user_id)
        on conflict (coupon_id, user_id) do nothing
        returning id, user_id`;
      const held = new Map(inserted.map((r) => [r.user_id, r.id]));
      if (held.size < grant.length) {
        // Users who already held this coupon (data written outside the API): their request is
        // satisfied by that coupon, as in the per-event handler.
        for (
          const r of await tx<{ id: string; user_id: string }[]>`
          select id, user_id from user_coupons
          where coupon_id = ${couponId} and user_id = any(${
            grant.map((g) => g.payload.userId)
          }::text[])`
        ) {
          if (!held.has(r.user_id)) held.set(r.user_id, r.id);
        }
      }
      await tx`update coupons set issued_quantity = issued_quantity + ${inserted.length} where id = ${couponId}`;
      await tx`
        update coupon_requests r set status = 'ISSUED', user_coupon_id = g.user_coupon_id, updated_at = now()
        from unnest(${grant.map((g) => g.payload.requestId)}::uuid[],
                    ${
        grant.map((g) => held.get(g.payload.userId)!)
      }::uuid[]) as g(id, user_coupon_id)
        where r.id = g.id`;
      for (const g of grant) {
        outcomes.push({
          type: "CouponIssued",
          payload: { ...g.payload, userCouponId: held.get(g.payload.userId)! },
        });
      }
    }
    if (reject.length > 0) {
      await tx`
        update coupon_requests set status = 'REJECTED', reason = ${reason}, updated_at = now()
        where id = any(${reject.map((r) => r.payload.requestId)}::uuid[])`;
      for (const r of reject) {
        outcomes.push({ type: "CouponIssueRejected", payload: { ...r.payload, reason } });
      }
    }
    // One outbox insert; each outcome keeps its request's trace.
    const traces = [...grant, ...reject].map((r) => r.traceparent);
    await appendEvents(tx, toOutbox(outcomes).map((e, i) => ({ ...e, traceparent: traces[i] })));
    log.info("coupon requests decided", {
      couponId,
      issued: grant.length,
      rejected: reject.length,
      reason: reject.length ? reason : undefined,
    });
  }
}

export const couponIssuer: Service = {
  group: "coupon-issuer",
  topics: [topicFor("coupon-issue")],
  types: ["CouponIssueRequested"],
  apply: decideRequests,
};
