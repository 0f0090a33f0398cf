/**
 * coupon-issuer: FCFS issuance. Requests of one coupon share a key, so they arrive on one
 * partition in the order they were accepted, and this handler grants them in that order while
 * stock lasts. One coupon per user is a unique constraint (user_coupons), not only a check.
 */
import type { Sql, Tx } from "../platform/db.ts";
import { defineService } from "../platform/service.ts";
import type { Logger } from "../platform/log.ts";
import { uuidv7 } from "../platform/uuidv7.ts";
import { type Event, EVENTS, type PayloadOf } from "../events/catalog.ts";
import { publish, type Publishable } from "../events/publish.ts";
import { consumerMetrics } from "../platform/metrics.ts";
import { NotVisibleYet } from "../platform/errors.ts";
import { couponRequestTimeouts } from "./metrics.ts";
import { topicFor } from "../events/topics.ts";

/**
 * Decides a run of requests (a single record is a run of one), set-based: every coupon of the
 * run locked up front in one statement in id order, then per coupon one look at the remaining
 * quantity, the first `remaining` PENDING requests (in offset order) granted with one insert, the
 * rest rejected with one update, and every outcome event in one outbox insert. A request that is
 * no longer PENDING (a replay from the DLQ) changes nothing.
 */
async function decideRequests(
  tx: Tx,
  events: Event<"CouponIssueRequested">[],
  log: Logger,
): Promise<void> {
  const byCoupon = new Map<
    string,
    {
      payload: PayloadOf<"CouponIssueRequested">;
      traceparent?: string;
      partition: number;
      offset: string;
    }[]
  >();
  for (const e of events) {
    const payload = e.payload;
    const list = byCoupon.get(payload.couponId) ?? [];
    list.push({ payload, traceparent: e.traceparent, partition: e.partition, offset: e.offset });
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
    if (!coupon) throw new NotVisibleYet(`coupon ${couponId} not found`);
    const ids = requests.map((r) => r.payload.requestId);
    const pendingRows = await tx<{ id: string }[]>`
      select id from coupon_requests where id = any(${ids}::uuid[]) and status = 'PENDING'
      order by id for no key update`;
    if (pendingRows.length !== new Set(ids).size) {
      const found = await tx<
        { id: string }[]
      >`select id from coupon_requests where id = any(${ids}::uuid[])`;
      if (found.length !== new Set(ids).size) {
        throw new NotVisibleYet(`a request of coupon ${couponId} was not found`);
      }
    }
    const pending = new Set(pendingRows.map((r) => r.id));
    const todo = requests.filter((r) => pending.delete(r.payload.requestId)); // offset order, once
    if (todo.length < requests.length) {
      // Decided already: a replay from the DLQ, or a request the deadline sweep rejected.
      consumerMetrics.late.inc(
        { group: "coupon-issuer", type: "CouponIssueRequested", why: "decided" },
        requests.length - todo.length,
      );
    }
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
          traceparent: g.traceparent,
        });
      }
    }
    if (reject.length > 0) {
      await tx`
        update coupon_requests set status = 'REJECTED', reason = ${reason}, updated_at = now()
        where id = any(${reject.map((r) => r.payload.requestId)}::uuid[])`;
      for (const r of reject) {
        outcomes.push({
          type: "CouponIssueRejected",
          payload: { ...r.payload, reason },
          traceparent: r.traceparent,
        });
      }
    }
    // One outbox insert; each outcome keeps its request's trace.
    await publish(tx, outcomes);
    // The issuer's mark: it has decided this coupon's requests up to the run's last record (in
    // offset order). The deadline sweep judges "passed over" by it, never by a clock. A run is
    // one partition; the mark only moves forward (a record redelivered below it changes nothing).
    const last = requests[requests.length - 1];
    await tx`
      update coupons set decided_partition = ${last.partition},
        decided_offset = case when decided_partition = ${last.partition}
                              then greatest(decided_offset, ${last.offset}::bigint)
                              else ${last.offset}::bigint end
      where id = ${couponId}`;
    log.info("coupon requests decided", {
      couponId,
      issued: grant.length,
      rejected: reject.length,
      reason: reject.length ? reason : undefined,
    });
  }
}

/**
 * Rejects with TIMEOUT the requests still PENDING `deadlineMs` after they were made, but only
 * those the issuer has passed over: it saw the request's record (dead-lettered it, recorded with
 * its offset in `dead_letter_log`) and has since decided a record of the same coupon at a later
 * offset of that partition (the coupon's mark, `decided_offset`). The log order is the commit
 * order, so this never rejects a request whose record is still queued behind the mark or not yet
 * relayed, however old it is by the clock: a backlog is never rejected by the clock, and FCFS
 * order stays exact. Runs under the same coupon row lock as issuance (taken with `skip locked`,
 * in id order: a coupon being issued is swept next round), so several issuer instances may sweep
 * at once. Returns how many requests it rejected.
 */
export async function sweepPassedOverRequests(
  sql: Sql,
  log: Logger,
  deadlineMs: number,
  batch = 500,
): Promise<number> {
  const overdue = sql`
    r.status = 'PENDING' and r.created_at < now() - make_interval(secs => ${deadlineMs / 1000})
    and exists (
      select 1 from dead_letter_log d join coupons c on c.id = r.coupon_id
      where d.consumer_group = 'coupon-issuer' and d.event_id = r.event_id
        and d.partition = c.decided_partition and d."offset" < c.decided_offset)`;
  return await sql.begin(async (tx) => {
    const candidates = await tx<{ coupon_id: string }[]>`
      select distinct r.coupon_id from coupon_requests r where ${overdue} limit ${batch}`;
    if (candidates.length === 0) return 0;
    const locked = await tx<{ id: string }[]>`
      select id from coupons where id = any(${candidates.map((c) => c.coupon_id)}::uuid[])
      order by id for no key update skip locked`;
    if (locked.length === 0) return 0;
    const rejected = await tx<{ id: string; coupon_id: string; user_id: string }[]>`
      update coupon_requests r set status = 'REJECTED', reason = 'TIMEOUT', updated_at = now()
      where r.id in (
        select r.id from coupon_requests r
        where r.coupon_id = any(${locked.map((c) => c.id)}::uuid[]) and ${overdue}
        order by r.id limit ${batch}
      )
      returning r.id, r.coupon_id, r.user_id`;
    if (rejected.length === 0) return 0;
    await publish(
      tx,
      rejected.map((r) => ({
        type: "CouponIssueRejected" as const,
        payload: { requestId: r.id, couponId: r.coupon_id, userId: r.user_id, reason: "TIMEOUT" },
      })),
    );
    couponRequestTimeouts.inc(rejected.length);
    for (const r of rejected) {
      log.info("coupon request timed out", { requestId: r.id, couponId: r.coupon_id });
    }
    return rejected.length;
  });
}

export const couponIssuer = defineService(EVENTS, {
  group: "coupon-issuer",
  role: "shop_coupon_issuer",
  topics: [topicFor("coupon-issue")],
  types: ["CouponIssueRequested"],
  apply: decideRequests,
  jobs: (sql, cfg, log) => [{
    name: "coupon request deadline sweep",
    everyMs: Math.min(1000, Math.max(100, Math.round(cfg.couponRequestDeadlineMs / 10))),
    run: () => sweepPassedOverRequests(sql, log, cfg.couponRequestDeadlineMs),
  }],
});
