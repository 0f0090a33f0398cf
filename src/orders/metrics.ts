/** Saga gauges, read from the orders table at scrape time: orders by state, oldest PENDING. */
import client from "prom-client";
import type { Sql } from "../platform/db.ts";
import { registry } from "../platform/metrics.ts";

let source: Sql | undefined;

/** Registers the gauges once per process; later calls only switch the pool they read from. */
export function registerOrderMetrics(sql: Sql): void {
  const first = source === undefined;
  source = sql;
  if (!first) return;
  new client.Gauge({
    name: "orders",
    help: "Orders by state",
    labelNames: ["status"] as const,
    registers: [registry],
    async collect() {
      const rows = await source!<{ status: string; n: number }[]>`
        select status, count(*)::int as n from orders group by status`;
      this.reset();
      for (const r of rows) this.set({ status: r.status }, r.n);
    },
  });
  new client.Gauge({
    name: "orders_oldest_pending_age_seconds",
    help: "Age of the oldest PENDING order (0 when none): a stuck saga shows here first",
    registers: [registry],
    async collect() {
      const [r] = await source!<{ age: number | null }[]>`
        select extract(epoch from now() - min(created_at))::float8 as age
        from orders where status = 'PENDING'`;
      this.set(r.age ?? 0);
    },
  });
}
