/**
 * `deno task bench [relay] [orders] [hot] [api]`: the benchmark suite against the local stack,
 * each figure next to its limit measured in the same run. Brings the stack up and runs setup
 * first; writes Markdown and JSON reports to results/. Scenarios run in the order below because
 * the API scenario leaves a backlog no worker drains (run `deno task stack:reset` after it).
 */
import { parseConfig } from "../src/platform/config.ts";
import { up } from "../stack/cli.ts";
import { setup } from "../src/setup.ts";
import { setLogLevel } from "../src/platform/log.ts";
import { connect } from "../src/platform/db.ts";
import { relayLatency } from "./relay_latency.ts";
import { type RelayResult, relayThroughput } from "./relay_throughput.ts";
import { apiWriteBench, type WriteResult } from "./api_write.ts";
import { type LatencyResult, orderLatency } from "./order_latency.ts";
import { hotCoupon, type HotCouponResult } from "./hot_coupon.ts";
import { type Usage, withUsage } from "./resources.ts";
import type { Summary } from "./stats.ts";

const ALL = ["relay", "orders", "hot", "api"];
const cfg = parseConfig(Deno.env.toObject());
const wanted = new Set(Deno.args.length ? Deno.args : ALL);
for (const w of wanted) {
  if (!ALL.includes(w)) throw new Error(`unknown scenario '${w}': expected ${ALL.join(", ")}`);
}

setLogLevel("warn");
await up();
await setup();

const sql = connect(cfg.databaseUrl, { max: 1 });
const [{ pg }] = await sql<{ pg: string }[]>`select current_setting('server_version') as pg`;
await sql.end();
const machine = {
  cores: navigator.hardwareConcurrency,
  memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
  os: `${Deno.build.os} ${Deno.osRelease()}`,
  versions: `Deno ${Deno.version.deno}, PostgreSQL ${pg}, Kafka 4.3.0, Debezium 3.6.1.Final`,
  settings: `TOPIC_PARTITIONS=${cfg.topicPartitions}, API pool 8, worker batch 500, ` +
    "Debezium poll.interval.ms=20, producer linger.ms=2",
};

const report: {
  at: string;
  machine: typeof machine;
  relay?: { throughput: RelayResult; oneAtATimeMs: Summary; usage: Usage[] };
  orders?: { phases: LatencyResult[]; usage: Usage[] };
  hotCoupon?: { result: HotCouponResult; usage: Usage[] };
  apiWrite?: { connections: number; results: WriteResult[]; usage: Usage[] }[];
} = { at: new Date().toISOString(), machine };

const md: string[] = [
  `# Benchmark report ${report.at}`,
  "",
  `Machine: ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}. ${machine.versions}.`,
  `Settings: ${machine.settings}. The whole stack runs on this machine during every scenario.`,
  "",
];
await Deno.mkdir("results", { recursive: true });
const stamp = report.at.replace(/[:.]/g, "-");
/** Writes what is measured so far, so a failing scenario keeps the earlier ones. */
async function save(): Promise<void> {
  await Deno.writeTextFile(`results/bench-${stamp}.json`, JSON.stringify(report, null, 2));
  await Deno.writeTextFile(`results/bench-${stamp}.md`, md.join("\n"));
}
const usageTable = (usage: Usage[]) => [
  "",
  "| process | CPU % of one core (scenario average) | peak memory MB (PSS) |",
  "|---|---|---|",
  ...usage.map((u) => `| ${u.process} | ${u.cpuPercent} | ${u.maxRssMb} |`),
  "",
];

if (wanted.has("relay")) {
  console.log("relay: throughput vs direct produce, latency at 10/50/90% ...");
  const { result, usage } = await withUsage(async () => ({
    throughput: await relayThroughput(cfg, 50_000),
    oneAtATimeMs: await relayLatency(cfg, 500),
  }));
  report.relay = { ...result, usage };
  const t = result.throughput;
  md.push(
    "## Relay (outbox -> Debezium -> Kafka)",
    "",
    `| measure | relay | limit: kafkajs producer, same records | relay / limit |`,
    "|---|---|---|---|",
    `| events/s until a consumer has all ${t.events} | ${t.relayPerSecond} | ${t.directPerSecond} | ${t.ratio} |`,
    "",
    "| commit -> consume | rate | p50 ms | p95 ms | p99 ms | max ms |",
    "|---|---|---|---|---|---|",
    ...t.latency.map((l) =>
      `| ${l.percentOfRelay}% of the relay's rate | ${l.ratePerSecond}/s | ${l.ms.p50} | ${l.ms.p95} | ${l.ms.p99} | ${l.ms.max} |`
    ),
    `| one at a time (500 events) | - | ${result.oneAtATimeMs.p50} | ${result.oneAtATimeMs.p95} | ${result.oneAtATimeMs.p99} | ${result.oneAtATimeMs.max} |`,
    ...usageTable(usage),
  );
  await save();
}

if (wanted.has("orders")) {
  console.log("orders end to end: 50/s, 200/s, then rising until p99 > 1 s ...");
  const { result, usage } = await withUsage(() =>
    orderLatency(cfg, [
      { ratePerSecond: 50, seconds: 30 },
      { ratePerSecond: 200, seconds: 30 },
      ...[300, 400, 500, 600, 800, 1000].map((r) => ({ ratePerSecond: r, seconds: 15 })),
    ], 1000)
  );
  report.orders = { phases: result, usage };
  const ok = result.filter((r) => r.latencyMs.p99 <= 1000);
  md.push(
    "## Orders end to end (202 to CONFIRMED, open-loop arrivals, API + relay + 5 workers)",
    "",
    `Highest rate tried with p99 under 1 s: ${ok.at(-1)?.ratePerSecond ?? "none"}/s.`,
    "",
    "| rate | duration | orders | confirmed | p50 ms | p95 ms | p99 ms | max ms |",
    "|---|---|---|---|---|---|---|---|",
    ...result.map((r) =>
      `| ${r.ratePerSecond}/s | ${r.seconds} s | ${r.sent} | ${r.confirmed} | ${r.latencyMs.p50} | ${r.latencyMs.p95} | ${r.latencyMs.p99} | ${r.latencyMs.max} |`
    ),
    ...usageTable(usage),
  );
  await save();
}

if (wanted.has("hot")) {
  console.log("hot coupon: 20,000 users, 1,000 coupons, one partition ...");
  const { result, usage } = await withUsage(() => hotCoupon(cfg));
  report.hotCoupon = { result, usage };
  md.push(
    "## Hot coupon (20,000 distinct users, one coupon of 1,000: one key, one partition)",
    "",
    "| run | API accepted/s | all terminal after | issuer decisions/s | issued |",
    "|---|---|---|---|---|",
    `| issuer running during the load | ${result.live.acceptedPerSecond} | ${result.live.allTerminalSeconds} s | - | ${result.live.issued} |`,
    `| backlog, then the issuer started | ${result.drain.acceptedPerSecond} | drained in ${result.drain.drainSeconds} s | ${result.drain.decisionsPerSecond} | ${result.drain.issued} |`,
    ...usageTable(usage),
  );
  await save();
}

if (wanted.has("api")) {
  report.apiWrite = [];
  md.push(
    "## API write path (10 s per phase; pgbench runs the same SQL at the same connections)",
    "",
    "| scenario | connections | API accepted/s | API p50 ms | API p99 ms | pgbench tx/s | pgbench p50 ms | pgbench p99 ms | API / pgbench |",
    "|---|---|---|---|---|---|---|---|---|",
  );
  const usages: string[] = [];
  for (const connections of [16, 64, 256]) {
    console.log(`API write path vs pgbench at ${connections} connections ...`);
    const { result, usage } = await withUsage(() =>
      apiWriteBench(cfg, { connections, seconds: 10 })
    );
    report.apiWrite.push({ connections, results: result, usage });
    md.push(
      ...result.map((r) =>
        `| ${r.scenario} | ${connections} | ${r.api.perSecond} | ${r.api.p50Ms} | ${r.api.p99Ms} | ${r.pgbench.perSecond} | ${r.pgbench.p50Ms} | ${r.pgbench.p99Ms} | ${r.ratio} |`
      ),
    );
    usages.push(`### Resources at ${connections} connections`, ...usageTable(usage));
    await save();
  }
  md.push("", ...usages);
}

await save();
console.log(md.join("\n"));
console.log(`\nreport: results/bench-${stamp}.md`);
