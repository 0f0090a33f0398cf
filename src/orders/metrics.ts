/**
 * Saga gauges from the orders table: orders by state, oldest PENDING. Refreshed in the background
 * by the API (`refreshDbGauges`), never on the scrape path.
 */
import client from "prom-client";
import type { Sql } from "../platform/db.ts";
import { dbGauge, registry } from "../platform/metrics.ts";

/** Orders the deadline sweep cancelled, by each required step that had not succeeded. */
export const orderTimeouts = new client.Counter({
  name: "saga_order_timeouts_total",
  help: "Orders cancelled with TIMEOUT, counted once per required step that had not succeeded",
  labelNames: ["missing_step"] as const,
  registers: [registry],
});

const ordersByState = dbGauge({
  name: "orders",
  help: "Orders by state",
  labelNames: ["status"] as const,
}, async (sql, gauge) => {
  const rows = await sql<{ status: string; n: number }[]>`
    select status, count(*)::int as n from orders group by status`;
  gauge.reset();
  for (const r of rows) gauge.set({ status: r.status }, r.n);
});

const oldestPending = dbGauge({
  name: "orders_oldest_pending_age_seconds",
  help: "Age of the oldest PENDING order (0 when none): a stuck saga shows here first",
}, async (sql, gauge) => {
  const [r] = await sql<{ age: number | null }[]>`
    select extract(epoch from now() - min(created_at))::float8 as age
    from orders where status = 'PENDING'`;
  gauge.set(r.age ?? 0);
});

/**
 * The deadline in force, beside the oldest PENDING order's age: an alert compares the two. Made
 * on registration, not on import: the workers load this module too (through the service's entry),
 * and an unlabelled gauge is served as 0 from its creation on.
 */
let deadline: client.Gauge | undefined;

export function registerOrderMetrics(sql: Sql, orderDeadlineMs: number): void {
  deadline ??= new client.Gauge({
    name: "orders_deadline_seconds",
    help: "How long an order may stay PENDING before the deadline sweep cancels it " +
      "(ORDER_DEADLINE_MS)",
    registers: [registry],
  });
  deadline.set(orderDeadlineMs / 1000);
  ordersByState(sql);
  oldestPending(sql);
}
