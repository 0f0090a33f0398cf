/**
 * `deno task bench [relay|api ...]`: benchmarks against the local stack, each next to the
 * hardware limit measured in the same run. Brings the stack up and runs setup first; writes
 * Markdown and JSON reports to results/.
 */
import { parseConfig } from "../src/platform/config.ts";
import { up } from "../stack/cli.ts";
import { setup } from "../src/setup.ts";
import { setLogLevel } from "../src/platform/log.ts";
import { relayLatency } from "./relay_latency.ts";
import { apiWriteBench, type WriteResult } from "./api_write.ts";
import type { Summary } from "./stats.ts";
import { type LatencyResult, orderLatency } from "./order_latency.ts";

const cfg = parseConfig(Deno.env.toObject());
const wanted = new Set(Deno.args.length ? Deno.args : ["api", "relay", "orders"]);
const machine = {
  cores: navigator.hardwareConcurrency,
  memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
  os: `${Deno.build.os} ${Deno.osRelease()}`,
  deno: Deno.version.deno,
};

setLogLevel("warn");
await up();
await setup();

const report: {
  at: string;
  machine: typeof machine;
  apiWrite?: WriteResult[];
  relayLatencyMs?: Summary;
  orderLatency?: LatencyResult[];
} = { at: new Date().toISOString(), machine };
const md = [
  `# Benchmark report ${report.at}`,
  "",
  `Machine: ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Deno ${machine.deno}; ` +
  "whole stack (Postgres, Kafka, Connect + Debezium) running on it.",
  "",
];

if (wanted.has("api")) {
  console.log("API write path vs pgbench (64 connections, 10 s each) ...");
  report.apiWrite = await apiWriteBench(cfg, { connections: 64, seconds: 10 });
  md.push(
    "## API write path (64 connections, 10 s; pgbench runs the same SQL transaction)",
    "",
    "| scenario | API accepted/s | API p50 ms | API p99 ms | pgbench tx/s | pgbench p50 ms | pgbench p99 ms | API / pgbench |",
    "|---|---|---|---|---|---|---|---|",
    ...report.apiWrite.map((r) =>
      `| ${r.scenario} | ${r.api.perSecond} | ${r.api.p50Ms} | ${r.api.p99Ms} | ${r.pgbench.perSecond} | ${r.pgbench.p50Ms} | ${r.pgbench.p99Ms} | ${r.ratio} |`
    ),
    "",
  );
}

if (wanted.has("relay")) {
  console.log("relay latency: 500 events, one at a time, commit -> consumer receive ...");
  const r = await relayLatency(cfg, 500);
  report.relayLatencyMs = r;
  md.push(
    "## Relay latency (commit to kafkajs receive, 500 events one at a time)",
    "",
    "| n | p50 ms | p95 ms | p99 ms | max ms |",
    "|---|---|---|---|---|",
    `| ${r.n} | ${r.p50} | ${r.p95} | ${r.p99} | ${r.max} |`,
    "",
  );
}

if (wanted.has("orders")) {
  console.log("orders end to end: 20 orders/s for 60 s, 202 -> CONFIRMED ...");
  report.orderLatency = [await orderLatency(cfg, { ratePerSecond: 20, seconds: 60 })];
  md.push(
    "## Orders end to end (202 to CONFIRMED, open-loop arrivals, API + relay + 5 workers)",
    "",
    "| rate | duration | orders | confirmed | p50 ms | p95 ms | p99 ms | max ms |",
    "|---|---|---|---|---|---|---|---|",
    ...report.orderLatency.map((r) =>
      `| ${r.ratePerSecond}/s | ${r.seconds} s | ${r.sent} | ${r.confirmed} | ${r.latencyMs.p50} | ${r.latencyMs.p95} | ${r.latencyMs.p99} | ${r.latencyMs.max} |`
    ),
    "",
  );
}

await Deno.mkdir("results", { recursive: true });
const stamp = report.at.replace(/[:.]/g, "-");
await Deno.writeTextFile(`results/bench-${stamp}.json`, JSON.stringify(report, null, 2));
await Deno.writeTextFile(`results/bench-${stamp}.md`, md.join("\n"));
console.log(md.join("\n"));
