/**
 * hops: orders at 50/s, and where their time goes per hop (hop_tail.ts): for each consumer group,
 * the relay's part (event made -> readable in Kafka) and the consumer's (readable -> claimed).
 * An order crosses two hops before it is confirmed (OrderCreated to the participants, their
 * replies to the saga).
 */
import { type Hop, hopsOf, startTail } from "../hop_tail.ts";
import { type LatencyResult, orderLatency } from "../order_latency.ts";
import { f, ok } from "../report_tables.ts";
import type { Scenario } from "../scenario.ts";
import { stallMs } from "./order_phases.ts";

interface HopsResult {
  orders: LatencyResult;
  hops: Hop[];
}

const phase = (quick: boolean) => ({ ratePerSecond: 50, seconds: quick ? 10 : 30 });

export const hops: Scenario<HopsResult> = {
  name: "hops",
  description: "orders at 50/s, each hop split into the relay's and the consumer's part",
  label: "hops",
  key: "hops",
  usesGroups: true,
  async run({ cfg, scratch, meter, quick, sql }) {
    let hops: Hop[] = [];
    const [orders] = await orderLatency(
      cfg,
      {
        phases: [phase(quick)],
        stallMs: stallMs(quick),
        aroundPhase: async (_label, fn) => {
          const tail = await startTail();
          try {
            return await fn();
          } finally {
            hops = await hopsOf(sql, await tail.stop());
          }
        },
      },
      scratch,
      meter,
    );
    return { orders, hops };
  },
  report(rs, { quick }) {
    const results = ok(rs);
    const groups = [...new Set(results.flatMap((r) => r.hops.map((h) => h.group)))].sort();
    const p = phase(quick);
    const of = (group: string, fn: (h: Hop) => number) =>
      f(results.flatMap((r) => r.hops.filter((h) => h.group === group).map(fn)));
    return {
      markdown: [
        "## Hops (where an order's time goes at 50/s)",
        "",
        `${p.ratePerSecond}/s for ${p.seconds} s. relay: the event's id time (made, before its ` +
        "commit) to a read-committed consumer of the bench's own seeing it; consumer: seen to " +
        "the group's inbox claim (its run's BEGIN). Median (min-max) of the runs. An order " +
        "crosses two hops before its confirmation.",
        "",
        `Orders 202 -> CONFIRMED: p50 ${f(results.map((r) => r.orders.latencyMs.p50))} ms, p99 ${
          f(results.map((r) => r.orders.latencyMs.p99))
        } ms.`,
        "",
        "| group | events | relay p50 ms | relay p99 ms | consumer p50 ms | consumer p99 ms |",
        "|---|---|---|---|---|---|",
        ...groups.map((g) =>
          `| ${g} | ${of(g, (h) => h.events)} | ${of(g, (h) => h.relayMs.p50)} | ${
            of(g, (h) => h.relayMs.p99)
          } | ${of(g, (h) => h.consumerMs.p50)} | ${of(g, (h) => h.consumerMs.p99)} |`
        ),
      ],
      targets: [],
    };
  },
};
