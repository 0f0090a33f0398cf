/**
 * FCFS gauge: PENDING requests per coupon (coupons with any pending). Refreshed in the background
 * by the API (`refreshDbGauges`), never on the scrape path.
 */
import client from "prom-client";
import { dbGauge, registry } from "../platform/metrics.ts";

/** FCFS requests the issuer's deadline sweep rejected (passed over, then past the deadline). */
export const couponRequestTimeouts = new client.Counter({
  name: "coupon_request_timeouts_total",
  help: "FCFS requests rejected with TIMEOUT: passed over by the issuer, then past the deadline",
  registers: [registry],
});

export const registerCouponMetrics = dbGauge({
  name: "coupon_requests_pending",
  help: "FCFS requests not yet decided, per coupon (top 100)",
  labelNames: ["coupon"] as const,
}, async (sql, gauge) => {
  const rows = await sql<{ coupon_id: string; n: number }[]>`
    select coupon_id, count(*)::int as n from coupon_requests
    where status = 'PENDING' group by coupon_id order by n desc limit 100`;
  gauge.reset();
  for (const r of rows) gauge.set({ coupon: r.coupon_id }, r.n);
});
