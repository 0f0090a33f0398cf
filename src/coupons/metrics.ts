/** FCFS gauge, read at scrape time: PENDING requests per coupon (coupons with any pending). */
import client from "prom-client";
import type { Sql } from "../platform/db.ts";
import { registry } from "../platform/metrics.ts";

let source: Sql | undefined;

/** Registers the gauge once per process; later calls only switch the pool it reads from. */
export function registerCouponMetrics(sql: Sql): void {
  const first = source === undefined;
  source = sql;
  if (!first) return;
  new client.Gauge({
    name: "coupon_requests_pending",
    help: "FCFS requests not yet decided, per coupon (top 100)",
    labelNames: ["coupon"] as const,
    registers: [registry],
    async collect() {
      const rows = await source!<{ coupon_id: string; n: number }[]>`
        select coupon_id, count(*)::int as n from coupon_requests
        where status = 'PENDING' group by coupon_id order by n desc limit 100`;
      this.reset();
      for (const r of rows) this.set({ coupon: r.coupon_id }, r.n);
    },
  });
}
