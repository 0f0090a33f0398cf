/**
 * inventory: reserves every line of an order or none (OUT_OF_STOCK), and gives a reservation
 * back when the order is cancelled. The reservation row (one per order) makes each step happen
 * at most once, and a cancellation seen before the order leaves a CANCELLED row so the
 * reservation never happens later.
 */
import type { Tx } from "../platform/db.ts";
import { defineService } from "../platform/service.ts";
import type { Logger } from "../platform/log.ts";
import { type Event, EVENTS } from "../events/catalog.ts";
import { publish } from "../events/publish.ts";
import { topicFor } from "../events/topics.ts";
import { consumerMetrics } from "../platform/metrics.ts";

interface Line {
  productId: string;
  quantity: number;
}

async function onOrderCreated(tx: Tx, event: Event<"OrderCreated">, log: Logger): Promise<void> {
  const { orderId, items, deadlineAt } = event.payload;
  const [step] = await tx<{ status: string | null; expired: boolean }[]>`
    select (select status from inventory_reservations where order_id = ${orderId}) as status,
           coalesce(now() >= ${deadlineAt ?? null}::timestamptz, false) as expired`;
  if (step.status) {
    // Reserved already, or cancelled before we got here (e.g. a replay after a timeout).
    consumerMetrics.late.inc({ group: "inventory", type: event.type, why: "decided" });
    return;
  }
  if (step.expired) {
    // The saga gives up on the order at its deadline: reserving now would only be undone.
    await tx`insert into inventory_reservations (order_id, status) values (${orderId}, 'CANCELLED')`;
    consumerMetrics.late.inc({ group: "inventory", type: event.type, why: "expired" });
    log.info("order past its deadline; nothing reserved", { orderId });
    return;
  }

  const lines: Line[] = items.map((i) => ({ productId: i.productId, quantity: i.quantity }));
  const ids = lines.map((l) => l.productId);
  // Locked already by the run's lock step.
  const stock = await tx<{ id: string; stock: number }[]>`
    select id, stock from products where id = any(${ids}::uuid[])`;
  const available = new Map(stock.map((s) => [s.id, s.stock]));
  const short = lines.some((l) => (available.get(l.productId) ?? 0) < l.quantity);
  if (short) {
    await tx`insert into inventory_reservations (order_id, status) values (${orderId}, 'REJECTED')`;
    await publish(
      tx,
      [{ type: "InventoryRejected", payload: { orderId, reason: "OUT_OF_STOCK" } }],
      event.traceparent,
    );
    log.info("inventory rejected", { orderId });
    return;
  }
  await tx`
    update products p set stock = p.stock - l.quantity
    from unnest(${ids}::uuid[], ${lines.map((l) => l.quantity)}::int[]) as l(id, quantity)
    where p.id = l.id`;
  await tx`
    insert into inventory_reservations (order_id, status, items)
    values (${orderId}, 'RESERVED', ${tx.json(lines as never)})`;
  await publish(tx, [{ type: "InventoryReserved", payload: { orderId } }], event.traceparent);
  log.info("inventory reserved", { orderId });
}

async function onOrderCancelled(
  tx: Tx,
  event: Event<"OrderCancelled">,
  log: Logger,
): Promise<void> {
  const { orderId } = event.payload;
  const [r] = await tx<{ status: string; items: Line[] }[]>`
    select status, items from inventory_reservations where order_id = ${orderId}`;
  if (!r) {
    await tx`insert into inventory_reservations (order_id, status) values (${orderId}, 'CANCELLED')`;
    log.info("cancelled before reservation; it will not happen", { orderId });
    return;
  }
  if (r.status !== "RESERVED") return;
  const sorted = [...r.items].sort((a, b) => a.productId.localeCompare(b.productId));
  await tx`
    update products p set stock = p.stock + l.quantity
    from unnest(${sorted.map((l) => l.productId)}::uuid[], ${sorted.map((l) => l.quantity)}::int[])
      as l(id, quantity)
    where p.id = l.id`;
  await tx`update inventory_reservations set status = 'RELEASED', updated_at = now() where order_id = ${orderId}`;
  await publish(tx, [{ type: "InventoryReleased", payload: { orderId } }], event.traceparent);
  log.info("inventory released", { orderId });
}

/**
 * Locks what the run will change before any change, one statement per table in key order: the
 * reservations its cancellations release, then every product of its orders' lines and of those
 * reservations. `no key update`:
 * stock changes, keys do not, so an order insert's foreign-key check (key share) never waits.
 */
async function lockProducts(
  tx: Tx,
  events: Event<"OrderCreated" | "OrderCancelled">[],
): Promise<void> {
  const ids = new Set<string>();
  const cancelled: string[] = [];
  for (const e of events) {
    if (e.type === "OrderCreated") {
      for (const i of e.payload.items) ids.add(i.productId);
    } else cancelled.push(e.payload.orderId);
  }
  if (cancelled.length > 0) {
    const held = await tx<{ status: string; items: Line[] }[]>`
      select status, items from inventory_reservations
      where order_id = any(${cancelled}::uuid[]) order by order_id for no key update`;
    for (const r of held) {
      if (r.status === "RESERVED") { for (const l of r.items) ids.add(l.productId); }
    }
  }
  if (ids.size === 0) return;
  await tx`
    select 1 from products where id = any(${[...ids]}::uuid[]) order by id for no key update`;
}

export const inventory = defineService(EVENTS, {
  group: "inventory",
  role: "shop_inventory",
  topics: [topicFor("order")],
  lock: lockProducts,
  handlers: { OrderCreated: onOrderCreated, OrderCancelled: onOrderCancelled },
});
