/**
 * What the orders and contention scenarios share: both run orders end to end (order_latency.ts)
 * and report one row per rate.
 */
import type { LatencyResult } from "../order_latency.ts";
import { f, ok } from "../report_tables.ts";
import type { Run } from "../scenario.ts";

/** How long no PENDING order may settle before the bench stops waiting for the rest. */
export const stallMs = (quick: boolean) => quick ? 15_000 : 30_000;

/** One row per rate, each figure median (min-max) over the runs. */
export function latencyTable(rs: Run<LatencyResult[]>[]): string[] {
  const all = ok(rs).flat();
  const rates = [...new Set(all.map((p) => p.ratePerSecond))].sort((a, b) => a - b);
  return [
    "| rate | runs | duration | orders | refused | confirmed | cancelled | stuck PENDING | p50 ms | p95 ms | p99 ms | max ms |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rates.map((rate) => {
      const ps = all.filter((p) => p.ratePerSecond === rate);
      const g = (fn: (p: LatencyResult) => number) => f(ps.map(fn));
      return `| ${rate}/s | ${ps.length} | ${ps[0].seconds} s | ${g((p) => p.sent)} | ${
        g((p) => p.refused)
      } | ${g((p) => p.confirmed)} | ${g((p) => p.cancelled)} | ${g((p) => p.pending)} | ${
        g((p) => p.latencyMs.p50)
      } | ${g((p) => p.latencyMs.p95)} | ${g((p) => p.latencyMs.p99)} | ${
        g((p) => p.latencyMs.max)
      } |`;
    }),
  ];
}
