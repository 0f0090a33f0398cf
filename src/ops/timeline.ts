/**
 * An order's timeline for the console: every event written for it (the outbox rows keyed by the
 * order id: the order, inventory, payment and coupon-redemption aggregates), who wrote it, when,
 * under which trace, plus the saga's record of each step's reply (order_steps). Compensations
 * (releases, restores, refunds) and failed steps are marked so the page can show them.
 */
import type { Sql } from "../platform/db.ts";

/** Which service writes each event type (the outbox row's producer). */
const WRITTEN_BY: Record<string, string> = {
  OrderCreated: "api",
  OrderConfirmed: "order-saga",
  OrderCancelled: "order-saga",
};
const BY_AGGREGATE: Record<string, string> = {
  inventory: "inventory",
  payment: "payment",
  "coupon-redemption": "coupon-redeemer",
  order: "order-saga",
};
const COMPENSATIONS = new Set(["InventoryReleased", "CouponRestored", "PaymentRefunded"]);
const FAILURES = new Set([
  "InventoryRejected",
  "PaymentFailed",
  "CouponRedemptionRejected",
  "OrderCancelled",
]);

export interface TimelineEntry {
  at: string;
  kind: "event" | "step";
  type: string;
  by: string;
  aggregate: string | null;
  outcome: "ok" | "failed" | "compensation";
  detail: string | null;
  eventId: string | null;
  traceId: string | null;
}

export interface Timeline {
  order: {
    id: string;
    userId: string;
    status: string;
    cancelReason: string | null;
    createdAt: string;
    deadlineAt: string;
  };
  entries: TimelineEntry[];
}

const traceIdOf = (traceparent: string | null) =>
  /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(traceparent ?? "")?.[1] ?? null;

export async function orderTimeline(sql: Sql, orderId: string): Promise<Timeline | undefined> {
  const [order] = await sql<Timeline["order"][]>`
    select id, user_id as "userId", status, cancel_reason as "cancelReason",
           created_at as "createdAt", deadline_at as "deadlineAt"
    from orders where id = ${orderId}`;
  if (!order) return undefined;
  const [events, steps] = await Promise.all([
    sql<
      {
        id: string;
        aggregatetype: string;
        type: string;
        payload: Record<string, unknown>;
        traceparent: string | null;
        at: Date;
      }[]
    >`
      select id, aggregatetype, type, payload, traceparent,
             created_at at time zone 'utc' as at
      from outbox where aggregateid = ${orderId} order by created_at, id`,
    sql<{ step: string; ok: boolean; reason: string | null; at: Date }[]>`
      select step, ok, reason, at from order_steps where order_id = ${orderId}`,
  ]);
  const entries: TimelineEntry[] = [
    ...events.map((e): TimelineEntry => ({
      at: new Date(e.at).toISOString(),
      kind: "event",
      type: e.type,
      by: WRITTEN_BY[e.type] ?? BY_AGGREGATE[e.aggregatetype] ?? e.aggregatetype,
      aggregate: e.aggregatetype,
      outcome: COMPENSATIONS.has(e.type) ? "compensation" : FAILURES.has(e.type) ? "failed" : "ok",
      detail: typeof e.payload.reason === "string" ? e.payload.reason : null,
      eventId: e.id,
      traceId: traceIdOf(e.traceparent),
    })),
    ...steps.map((s): TimelineEntry => ({
      at: new Date(s.at).toISOString(),
      kind: "step",
      type: `step ${s.step} recorded`,
      by: "order-saga",
      aggregate: null,
      outcome: s.ok ? "ok" : "failed",
      detail: s.reason,
      eventId: null,
      traceId: null,
    })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  return {
    order: {
      ...order,
      createdAt: new Date(order.createdAt).toISOString(),
      deadlineAt: new Date(order.deadlineAt).toISOString(),
    },
    entries,
  };
}
