/**
 * best-sellers: a projection of the order topic into units sold per product per hour of
 * confirmation (docs/projections.md). It consumes OrderCreated (the lines), OrderConfirmed (the
 * confirmation's time: its record's timestamp, the outbox row's creation by the saga) and
 * OrderCancelled, which share the key (order id) and hence the partition of `shop.order`: an
 * order's events reach it in the order they were written. Either order is handled anyway: a
 * dead-letter replay puts an event back after the ones that followed it, and a replay from an
 * offset can start between an order's events. Until an order has both its lines and its
 * confirmation it waits in `pending_orders`; when it has both, its quantities are added to the
 * confirmation's hour and the row goes. Nothing is published: a read model writes only its own
 * tables (and its inbox rows, through the runtime, in the same transaction).
 */
import type { Sql, Tx } from "../platform/db.ts";
import { defineService } from "../platform/service.ts";
import type { Logger } from "../platform/log.ts";
import { type Event, EVENTS } from "../events/catalog.ts";
import { topicFor } from "../events/topics.ts";

/** The consumer group (the Prometheus rule ProjectionLagHigh names it) and worker name. */
export const BEST_SELLERS_GROUP = "best-sellers";
/** The topic the projection reads: every order event. */
export const BEST_SELLERS_TOPIC = topicFor("order");

const HOUR_MS = 3600_000;

/** The order events the projection applies; the topic's others are skipped. */
type Handled = "OrderCreated" | "OrderConfirmed" | "OrderCancelled";
type OrderEvent = Event<Handled>;

interface Line {
  productId: string;
  quantity: number;
}

/** An order not counted yet, as the run sees it. */
interface Pending {
  items: Line[] | null;
  confirmedAt: number | null;
  cancelled: boolean;
  seenAt: number;
  /** Counted or cancelled in this run (or before): the row goes. */
  done: boolean;
}

/** The start of the UTC hour `ms` falls in. */
export const hourOf = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS;

/**
 * Folds a run's events, in offset order, into the orders' states (`pending`: the rows read for
 * the run, changed in place) and the units they add per `productId hour` key. Pure, for the
 * tests: no database.
 */
export function foldOrderEvents(
  pending: Map<string, Pending>,
  events: readonly OrderEvent[],
): Map<string, number> {
  const units = new Map<string, number>();
  for (const e of events) {
    const id = e.payload.orderId;
    const s = pending.get(id) ??
      { items: null, confirmedAt: null, cancelled: false, seenAt: 0, done: false };
    pending.set(id, s);
    s.seenAt = Math.max(s.seenAt, e.timestamp);
    if (s.done) continue; // counted or cancelled already: a later event changes nothing
    if (e.type === "OrderCreated") {
      s.items ??= e.payload.items.map((l) => ({ productId: l.productId, quantity: l.quantity }));
    } else if (e.type === "OrderConfirmed") {
      s.confirmedAt ??= e.timestamp;
    } else {
      s.cancelled = true;
    }
    if (s.items && s.cancelled) {
      s.done = true;
    } else if (s.items && s.confirmedAt !== null) {
      const hour = new Date(hourOf(s.confirmedAt)).toISOString();
      for (const l of s.items) {
        const key = `${l.productId} ${hour}`;
        units.set(key, (units.get(key) ?? 0) + l.quantity);
      }
      s.done = true;
    }
  }
  return units;
}

/**
 * Applies a run (one partition's records, in offset order) with four statements whatever its
 * size: the run's pending orders read and locked in one statement in id order; the counted and
 * cancelled ones deleted, the others upserted; the units added to their hours in one upsert in
 * (product, hour) order, so two partitions' runs adding to the same hours queue on their first
 * common row instead of deadlocking; the partition's newest applied event time recorded.
 */
export async function applyOrderEvents(
  tx: Tx,
  events: OrderEvent[],
  _log: Logger,
): Promise<void> {
  if (events.length === 0) return;
  const ids = [...new Set(events.map((e) => e.payload.orderId))].sort();
  const rows = await tx<
    {
      order_id: string;
      items: Line[] | null;
      confirmed_at: Date | null;
      cancelled: boolean;
      seen_at: Date;
    }[]
  >`
    select order_id, items, confirmed_at, cancelled, seen_at from pending_orders
    where order_id = any(${ids}::uuid[]) order by order_id for update`;
  const pending = new Map<string, Pending>(rows.map((r) => [r.order_id, {
    items: r.items,
    confirmedAt: r.confirmed_at?.getTime() ?? null,
    cancelled: r.cancelled,
    seenAt: r.seen_at.getTime(),
    done: false,
  }]));
  const units = foldOrderEvents(pending, events);

  const done = [...pending].filter(([, s]) => s.done).map(([id]) => id);
  const waiting = [...pending].filter(([, s]) => !s.done);
  if (done.length > 0) {
    await tx`delete from pending_orders where order_id = any(${done}::uuid[])`;
  }
  if (waiting.length > 0) {
    const rows = waiting.map(([id, s]) => ({
      order_id: id,
      items: s.items,
      confirmed_at: iso(s.confirmedAt),
      cancelled: s.cancelled,
      seen_at: iso(s.seenAt),
    }));
    await tx`
      insert into pending_orders (order_id, items, confirmed_at, cancelled, seen_at)
      select order_id, items, confirmed_at, cancelled, seen_at
      from jsonb_to_recordset(${tx.json(rows as never)}) as w(
        order_id uuid, items jsonb, confirmed_at timestamptz, cancelled boolean,
        seen_at timestamptz)
      order by order_id
      on conflict (order_id) do update set
        items = excluded.items, confirmed_at = excluded.confirmed_at,
        cancelled = excluded.cancelled, seen_at = excluded.seen_at`;
  }
  if (units.size > 0) {
    const added = [...units].map(([key, n]) => {
      const [product_id, hour] = key.split(" ");
      return { product_id, hour, units: n };
    });
    await tx`
      insert into hourly_units (product_id, hour, units)
      select product_id, hour, units
      from jsonb_to_recordset(${tx.json(added as never)}) as a(
        product_id uuid, hour timestamptz, units bigint)
      order by product_id, hour
      on conflict (product_id, hour) do update set units = hourly_units.units + excluded.units`;
  }
  const newest = Math.max(...events.map((e) => e.timestamp));
  const { topic, partition } = events[0];
  await tx`
    insert into applied_through (topic, partition, event_at)
    values (${topic}, ${partition}, ${iso(newest)}::timestamptz)
    on conflict (topic, partition) do update
      set event_at = greatest(applied_through.event_at, excluded.event_at)`;
}

const iso = (ms: number | null) => ms === null ? null : new Date(ms).toISOString();

/**
 * Deletes hours older than `retentionHours` and pending orders untouched that long (their
 * partner event can no longer arrive: the log has dropped it); returns how many rows went.
 */
export async function purgeBestSellers(sql: Sql, retentionHours: number): Promise<number> {
  const hours = await sql`
    delete from hourly_units where hour < now() - make_interval(hours => ${retentionHours})
    returning 1`;
  const orders = await sql`
    delete from pending_orders where seen_at < now() - make_interval(hours => ${retentionHours})
    returning 1`;
  return hours.length + orders.length;
}

export const bestSellers = defineService<typeof EVENTS, Handled>(EVENTS, {
  group: BEST_SELLERS_GROUP,
  role: "shop_best_sellers",
  topics: [BEST_SELLERS_TOPIC],
  types: ["OrderCreated", "OrderConfirmed", "OrderCancelled"],
  apply: applyOrderEvents,
  jobs: (sql, cfg) => [{
    name: "best-sellers retention",
    everyMs: HOUR_MS,
    run: () => purgeBestSellers(sql, cfg.topicRetentionHours),
  }],
});
