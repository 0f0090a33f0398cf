/**
 * coupon-redeemer: marks an order's user coupon USED if the user owns it, it is AVAILABLE and
 * not expired (else COUPON_UNAVAILABLE), and restores it when the order is cancelled. Orders
 * without a coupon are not its business (the saga does not wait for it). One redemption row per
 * order makes each step happen at most once, and a cancellation seen first prevents the step.
 *
 * A run is decided set-based: one statement reads and locks the run's redemptions (with the
 * database clock), one the user coupons they and the run's orders name, both in key order; every
 * event is then decided in memory in offset order; one statement writes user coupons,
 * redemptions and outbox events.
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

type RedemptionStatus = "REDEEMED" | "REJECTED" | "RESTORED" | "CANCELLED";

interface Redemption {
  /** Null only for a cancellation of an event that did not say (see onCancelled). */
  userCouponId: string | null;
  status: RedemptionStatus;
}

interface UserCoupon {
  userId: string;
  status: "AVAILABLE" | "USED";
  orderId: string | null;
  /** Its coupon has not expired by the run's clock. */
  valid: boolean;
}

type RedeemerEvent = Event<"OrderCreated" | "OrderCancelled">;

/** What a run starts from: its redemptions and every user coupon it may touch. */
export interface RedeemerState {
  redemptions: Map<string, Redemption>;
  userCoupons: Map<string, UserCoupon>;
}

/** What a run leaves: the rows it changed and the events it publishes, in offset order. */
export interface RedeemerChanges {
  redemptions: Map<string, Redemption>;
  userCoupons: Map<string, UserCoupon>;
  events: Publishable[];
}

/**
 * Decides a run in offset order against `state`, which it updates as it goes (a later event of
 * the run sees what an earlier one did). Pure but for metrics and logs.
 */
export function decideRedemptions(
  state: RedeemerState,
  events: RedeemerEvent[],
  clock: RunClock,
  log: Logger,
): RedeemerChanges {
  const out: RedeemerChanges = { redemptions: new Map(), userCoupons: new Map(), events: [] };
  const record = recordChanges(state.redemptions, out.redemptions);
  const setCoupon = recordChanges(state.userCoupons, out.userCoupons);
  for (const event of events) {
    const elog = eventLog(log, event);
    const { orderId, userCouponId } = event.payload;
    const held = state.redemptions.get(orderId);
    if (event.type === "OrderCreated") {
      if (!userCouponId) continue;
      if (held) {
        consumerMetrics.late.inc({ group: "coupon-redeemer", type: event.type, why: "decided" });
        continue;
      }
      if (isPastDeadline(clock, event.payload.deadlineAt)) {
        // The saga gives up on the order at its deadline: using the coupon now would be undone.
        record(orderId, { userCouponId, status: "CANCELLED" });
        consumerMetrics.late.inc({ group: "coupon-redeemer", type: event.type, why: "expired" });
        elog.info("order past its deadline; coupon not used", { orderId, userCouponId });
        continue;
      }
      const uc = state.userCoupons.get(userCouponId);
      if (!uc || uc.userId !== event.payload.userId || uc.status !== "AVAILABLE" || !uc.valid) {
        record(orderId, { userCouponId, status: "REJECTED" });
        out.events.push({
          type: "CouponRedemptionRejected",
          payload: { orderId, userCouponId, reason: "COUPON_UNAVAILABLE" },
          traceparent: event.traceparent ?? null,
        });
        elog.info("coupon unavailable", { orderId, userCouponId });
        continue;
      }
      setCoupon(userCouponId, { ...uc, status: "USED", orderId });
      record(orderId, { userCouponId, status: "REDEEMED" });
      out.events.push({
        type: "CouponRedeemed",
        payload: { orderId, userCouponId },
        traceparent: event.traceparent ?? null,
      });
      elog.info("coupon redeemed", { orderId, userCouponId });
    } else {
      if (!held) {
        // Cancelled before its redemption: record that it must not happen. Only orders with a
        // coupon matter; an event that does not say (written before it carried the coupon) may
        // have one.
        if (userCouponId !== null) {
          record(orderId, { userCouponId: userCouponId ?? null, status: "CANCELLED" });
          elog.info("cancelled before redemption; it will not happen", { orderId });
        }
        continue;
      }
      if (held.status !== "REDEEMED") continue;
      const id = held.userCouponId!;
      const uc = state.userCoupons.get(id);
      // Only if the coupon is still this order's use of it.
      if (uc && uc.orderId === orderId) {
        setCoupon(id, { ...uc, status: "AVAILABLE", orderId: null });
      }
      record(orderId, { ...held, status: "RESTORED" });
      out.events.push({
        type: "CouponRestored",
        payload: { orderId, userCouponId: id },
        traceparent: event.traceparent ?? null,
      });
      elog.info("coupon restored", { orderId, userCouponId: id });
    }
  }
  return out;
}

/**
 * Reads and locks what the run may change, one statement per table in key order: the run's
 * redemptions (with the clock), then every user coupon its orders redeem or its cancellations
 * restore.
 */
async function readRedemptions(
  tx: Tx,
  events: RedeemerEvent[],
): Promise<{ state: RedeemerState; clock: RunClock }> {
  const orderIds = [...new Set(events.map((e) => e.payload.orderId))];
  const [read] = await tx<
    {
      now: Date;
      redemptions: { order_id: string; user_coupon_id: string; status: RedemptionStatus }[];
    }[]
  >`
    select date_trunc('milliseconds', now()) as now,
           (select coalesce(json_agg(r), '[]') from (
              select order_id, user_coupon_id, status from coupon_redemptions
              where order_id = any(${orderIds}::uuid[]) order by order_id for no key update
            ) r) as redemptions`;
  const redemptions = new Map(
    read.redemptions.map((r) => [
      r.order_id,
      { userCouponId: r.user_coupon_id, status: r.status },
    ]),
  );
  const ids = new Set<string>();
  for (const e of events) {
    if (e.type === "OrderCreated" && e.payload.userCouponId) ids.add(e.payload.userCouponId);
  }
  for (const r of redemptions.values()) {
    if (r.status === "REDEEMED" && r.userCouponId) ids.add(r.userCouponId);
  }
  const userCoupons = new Map<string, UserCoupon>();
  if (ids.size > 0) {
    const rows = await tx<
      {
        id: string;
        user_id: string;
        status: "AVAILABLE" | "USED";
        order_id: string | null;
        valid: boolean;
      }[]
    >`
      select uc.id, uc.user_id, uc.status, uc.order_id,
             (c.expires_at is null or c.expires_at > now()) as valid
      from user_coupons uc join coupons c on c.id = uc.coupon_id
      where uc.id = any(${[...ids]}::uuid[]) order by uc.id
      for no key update of uc`;
    for (const r of rows) {
      userCoupons.set(r.id, {
        userId: r.user_id,
        status: r.status,
        orderId: r.order_id,
        valid: r.valid,
      });
    }
  }
  return { state: { redemptions, userCoupons }, clock: { now: read.now } };
}

/**
 * One statement: user coupons, redemptions and the run's events. A redemption the run read is
 * updated; a new one is inserted, never upserted: if another transaction inserted it since (two
 * consumers of one partition during a rebalance), the unique key fails the run, which is then
 * retried and sees that row, as one event at a time would.
 */
async function writeRedemptions(
  tx: Tx,
  changes: RedeemerChanges,
  existed: Set<string>,
): Promise<void> {
  const coupons = [...changes.userCoupons];
  const [updated, inserted] = splitBy([...changes.redemptions], ([id]) => existed.has(id));
  if (coupons.length === 0 && changes.redemptions.size === 0 && changes.events.length === 0) {
    return;
  }
  const events = publishQuery(tx, changes.events);
  await tx`
    with coupons as (
      update user_coupons uc
      set status = v.status, order_id = v.order_id,
          used_at = case when v.status = 'USED' then now() end
      from unnest(${coupons.map(([id]) => id)}::uuid[], ${coupons.map(([, c]) => c.status)}::text[],
                  ${coupons.map(([, c]) => c.orderId)}::uuid[])
        as v(id, status, order_id)
      where uc.id = v.id
    ), inserted as (
      insert into coupon_redemptions (order_id, user_coupon_id, status)
      select * from unnest(${inserted.map(([id]) => id)}::uuid[],
                           ${inserted.map(([, r]) => r.userCouponId)}::uuid[],
                           ${inserted.map(([, r]) => r.status)}::text[])
    ), updated as (
      update coupon_redemptions r set status = v.status, updated_at = now()
      from unnest(${updated.map(([id]) => id)}::uuid[], ${updated.map(([, r]) => r.status)}::text[])
        as v(order_id, status)
      where r.order_id = v.order_id
    )
    ${events.query}`;
}

/**
 * Orders without a coupon are not this service's business: their events (an OrderCreated or
 * OrderCancelled saying `userCouponId: null`; an order's events agree on it) are skipped by the
 * runtime, neither claimed nor applied, and cost no statement (a run handed such events anyway,
 * as a test may, leaves them out).
 */
const noCoupon = (e: RedeemerEvent) => e.payload.userCouponId === null;

async function applyRun(tx: Tx, events: RedeemerEvent[], log: Logger): Promise<void> {
  const mine = events.filter((e) => !noCoupon(e));
  if (mine.length === 0) return;
  const { state, clock } = await readRedemptions(tx, mine);
  const existed = new Set(state.redemptions.keys());
  await writeRedemptions(tx, decideRedemptions(state, mine, clock, log), existed);
}

export const couponRedeemer = defineService(EVENTS, {
  group: "coupon-redeemer",
  role: "shop_coupon_redeemer",
  topics: [topicFor("order")],
  types: ["OrderCreated", "OrderCancelled"],
  ignores: noCoupon,
  apply: applyRun,
});
