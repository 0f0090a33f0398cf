/**
 * inventory: reserves every line of an order or none (OUT_OF_STOCK), and gives a reservation
 * back when the order is cancelled. The reservation row (one per order) makes each step happen
 * at most once, and a cancellation seen before the order leaves a CANCELLED row so the
 * reservation never happens later.
 *
 * A run is decided set-based: one statement reads and locks the run's reservations (with the
 * database clock), one the products they and the run's orders touch, both in key order; every
 * event is then decided in memory in offset order, each seeing the stock and reservations the
 * ones before it left; one statement writes stock, reservations and outbox events.
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

interface Line {
  productId: string;
  quantity: number;
}

type ReservationStatus = "RESERVED" | "REJECTED" | "RELEASED" | "CANCELLED";

interface Reservation {
  status: ReservationStatus;
  items: Line[];
}

type InventoryEvent = Event<"OrderCreated" | "OrderCancelled">;

/** What a run starts from: its reservations and the stock of every product it may touch. */
export interface InventoryState {
  reservations: Map<string, Reservation>;
  stock: Map<string, number>;
}

/** What a run leaves: the rows it changed and the events it publishes, in offset order. */
export interface InventoryChanges {
  reservations: Map<string, Reservation>;
  stock: Map<string, number>;
  events: Publishable[];
}

/**
 * Decides a run in offset order against `state`, which it updates as it goes (a later event of
 * the run sees what an earlier one did). Pure but for metrics and logs.
 */
export function decideInventory(
  state: InventoryState,
  events: InventoryEvent[],
  clock: RunClock,
  log: Logger,
): InventoryChanges {
  const out: InventoryChanges = { reservations: new Map(), stock: new Map(), events: [] };
  const reserve = recordChanges(state.reservations, out.reservations);
  const setStock = recordChanges(state.stock, out.stock);
  for (const event of events) {
    const elog = eventLog(log, event);
    const { orderId } = event.payload;
    const held = state.reservations.get(orderId);
    if (event.type === "OrderCreated") {
      if (held) {
        // Reserved already, or cancelled before we got here (e.g. a replay after a timeout).
        consumerMetrics.late.inc({ group: "inventory", type: event.type, why: "decided" });
        continue;
      }
      if (isPastDeadline(clock, event.payload.deadlineAt)) {
        // The saga gives up on the order at its deadline: reserving now would only be undone.
        reserve(orderId, { status: "CANCELLED", items: [] });
        consumerMetrics.late.inc({ group: "inventory", type: event.type, why: "expired" });
        elog.info("order past its deadline; nothing reserved", { orderId });
        continue;
      }
      const lines: Line[] = event.payload.items.map((i) => ({
        productId: i.productId,
        quantity: i.quantity,
      }));
      if (lines.some((l) => (state.stock.get(l.productId) ?? 0) < l.quantity)) {
        reserve(orderId, { status: "REJECTED", items: [] });
        out.events.push({
          type: "InventoryRejected",
          payload: { orderId, reason: "OUT_OF_STOCK" },
          traceparent: event.traceparent ?? null,
        });
        elog.info("inventory rejected", { orderId });
        continue;
      }
      for (const l of lines) setStock(l.productId, state.stock.get(l.productId)! - l.quantity);
      reserve(orderId, { status: "RESERVED", items: lines });
      out.events.push({
        type: "InventoryReserved",
        payload: { orderId },
        traceparent: event.traceparent ?? null,
      });
      elog.info("inventory reserved", { orderId });
    } else {
      if (!held) {
        reserve(orderId, { status: "CANCELLED", items: [] });
        elog.info("cancelled before reservation; it will not happen", { orderId });
        continue;
      }
      if (held.status !== "RESERVED") continue;
      for (const l of held.items) {
        // A product gone from the table takes nothing back (as an update of no row would).
        const stock = state.stock.get(l.productId);
        if (stock !== undefined) setStock(l.productId, stock + l.quantity);
      }
      reserve(orderId, { status: "RELEASED", items: held.items });
      out.events.push({
        type: "InventoryReleased",
        payload: { orderId },
        traceparent: event.traceparent ?? null,
      });
      elog.info("inventory released", { orderId });
    }
  }
  return out;
}

/**
 * Reads and locks what the run may change, one statement per table in key order: the run's
 * reservations (with the clock), then every product of its orders' lines and of the
 * reservations its cancellations release. `no key update`: stock changes, keys do not, so an
 * order insert's foreign-key check (key share) never waits.
 */
async function readInventory(
  tx: Tx,
  events: InventoryEvent[],
): Promise<{ state: InventoryState; clock: RunClock }> {
  const orderIds = [...new Set(events.map((e) => e.payload.orderId))];
  const [read] = await tx<{ now: Date; reservations: ({ order_id: string } & Reservation)[] }[]>`
    select date_trunc('milliseconds', now()) as now,
           (select coalesce(json_agg(r), '[]') from (
              select order_id, status, items from inventory_reservations
              where order_id = any(${orderIds}::uuid[]) order by order_id for no key update
            ) r) as reservations`;
  const reservations = new Map(
    read.reservations.map((r) => [r.order_id, { status: r.status, items: r.items }]),
  );
  const ids = new Set<string>();
  for (const e of events) {
    if (e.type === "OrderCreated") { for (const i of e.payload.items) ids.add(i.productId); }
  }
  for (const r of reservations.values()) {
    if (r.status === "RESERVED") { for (const l of r.items) ids.add(l.productId); }
  }
  const stock = new Map<string, number>();
  if (ids.size > 0) {
    const rows = await tx<{ id: string; stock: number }[]>`
      select id, stock from products where id = any(${[...ids]}::uuid[]) order by id
      for no key update`;
    for (const p of rows) stock.set(p.id, p.stock);
  }
  return { state: { reservations, stock }, clock: { now: read.now } };
}

/**
 * One statement: stock, reservations and the run's events. A reservation the run read is
 * updated; a new one is inserted, never upserted: if another transaction inserted it since (two
 * consumers of one partition during a rebalance), the unique key fails the run, which is then
 * retried and sees that row, as one event at a time would.
 */
async function writeInventory(
  tx: Tx,
  changes: InventoryChanges,
  existed: Set<string>,
): Promise<void> {
  const stock = [...changes.stock];
  const [updated, inserted] = splitBy([...changes.reservations], ([id]) => existed.has(id));
  if (stock.length === 0 && changes.reservations.size === 0 && changes.events.length === 0) {
    return;
  }
  const events = publishQuery(tx, changes.events);
  await tx`
    with stock as (
      update products p set stock = v.stock
      from unnest(${stock.map(([id]) => id)}::uuid[], ${stock.map(([, s]) => s)}::int[])
        as v(id, stock)
      where p.id = v.id
    ), inserted as (
      insert into inventory_reservations (order_id, status, items)
      select order_id, status, items::jsonb
      from unnest(${inserted.map(([id]) => id)}::uuid[], ${
    inserted.map(([, r]) => r.status)
  }::text[],
                  ${inserted.map(([, r]) => JSON.stringify(r.items))}::text[])
        as v(order_id, status, items)
    ), updated as (
      update inventory_reservations r set status = v.status, updated_at = now()
      from unnest(${updated.map(([id]) => id)}::uuid[], ${updated.map(([, r]) => r.status)}::text[])
        as v(order_id, status)
      where r.order_id = v.order_id
    )
    ${events.query}`;
}

async function applyRun(tx: Tx, events: InventoryEvent[], log: Logger): Promise<void> {
  const { state, clock } = await readInventory(tx, events);
  const existed = new Set(state.reservations.keys());
  await writeInventory(tx, decideInventory(state, events, clock, log), existed);
}

export const inventory = defineService(EVENTS, {
  group: "inventory",
  role: "shop_inventory",
  topics: [topicFor("order")],
  types: ["OrderCreated", "OrderCancelled"],
  apply: applyRun,
});
