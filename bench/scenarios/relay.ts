/**
 * relay: outbox -> Debezium -> Kafka events/s vs a kafkajs producer writing the same records (the
 * limit, measured right before); commit-to-consume latency at 10%, 50% and 90% of the relay's
 * rate, and one event at a time. Its topics and groups are its own, and deleted.
 */
import { relayLatency } from "../relay_latency.ts";
import { type RelayResult, relayThroughput } from "../relay_throughput.ts";
import { f, healthTable, hhmmss, ok, usageTable } from "../report_tables.ts";
import type { Scenario } from "../scenario.ts";
import type { Summary } from "../stats.ts";
import { target } from "../targets.ts";

export interface RelayRun {
  throughput: RelayResult;
  oneAtATimeMs: Summary;
}

const settings = (quick: boolean) =>
  quick
    ? { load: { events: 10_000, warm: 5_000, pacedSeconds: 3 }, oneAtATime: 100 }
    : { load: { events: 50_000, warm: 20_000, pacedSeconds: 10 }, oneAtATime: 500 };

export const relay: Scenario<RelayRun> = {
  name: "relay",
  description:
    "outbox -> Debezium -> Kafka events/s vs a kafkajs producer; commit-to-consume latency",
  label: "relay",
  key: "relay",
  usesGroups: false,
  async run({ cfg, meter, quick }) {
    const s = settings(quick);
    return {
      throughput: await relayThroughput(cfg, s.load, meter),
      oneAtATimeMs: await relayLatency(cfg, s.oneAtATime),
    };
  },
  report(rs, { quick, machine }) {
    const s = settings(quick);
    const res = ok(rs);
    const t = res.map((r) => r.throughput);
    const lat = (percent: number, fn: (s: Summary) => number) =>
      f(t.map((x) => fn(x.latency.find((l) => l.percentOfRelay === percent)!.ms)));
    return {
      markdown: [
        "## Relay (outbox -> Debezium -> Kafka)",
        "",
        `Events/s until a consumer has all ${s.load.events}; in each run the limit (a kafkajs producer ` +
        "writing the same records) right before the relay.",
        "",
        "| run | limit: kafkajs producer, events/s (at) | relay, events/s (at) | relay / limit |",
        "|---|---|---|---|",
        ...rs.filter((r) => r.result).map((r) => {
          const x = r.result!.throughput;
          return `| ${r.run} | ${x.directPerSecond} (${
            hhmmss(x.directAt)
          }) | ${x.relayPerSecond} (${hhmmss(x.relayAt)}) | ${x.ratio} |`;
        }),
        `| **median (min-max)** | ${f(t.map((x) => x.directPerSecond))} | ${
          f(t.map((x) => x.relayPerSecond))
        } | ${f(t.map((x) => x.ratio))} |`,
        "",
        "| commit -> consume | rate | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
        ...[10, 50, 90].map((p) =>
          `| ${p}% of the relay's rate | ${
            f(t.map((x) => x.latency.find((l) => l.percentOfRelay === p)!.ratePerSecond))
          }/s | ${lat(p, (s) => s.p50)} | ${lat(p, (s) => s.p95)} | ${lat(p, (s) => s.p99)} | ${
            lat(p, (s) => s.max)
          } |`
        ),
        `| one at a time (${s.oneAtATime} events) | - | ${
          f(res.map((r) => r.oneAtATimeMs.p50))
        } | ${f(res.map((r) => r.oneAtATimeMs.p95))} | ${f(res.map((r) => r.oneAtATimeMs.p99))} | ${
          f(res.map((r) => r.oneAtATimeMs.max))
        } |`,
        ...healthTable(rs),
        ...usageTable(rs, machine.cores),
      ],
      targets: [
        target("relay / direct produce", ">= 0.8", t.map((x) => x.ratio), (m) => m >= 0.8),
      ],
    };
  },
};
