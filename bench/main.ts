/**
 * `deno task bench [relay] [orders] [contention] [hot] [api] [--runs N] [--quick]`: the benchmark
 * suite against the local stack, each figure next to its limit measured in the same run. Brings
 * the stack up and runs setup first; writes Markdown and JSON reports to results/ (after every
 * run, so a failure keeps what was measured). No scenario named: all, in the order above.
 *
 * - relay: outbox -> Debezium -> Kafka events/s vs a kafkajs producer; commit-to-consume latency.
 * - orders: 202 -> CONFIRMED latency at 50/s and 200/s, then a sweep for the highest rate with
 *   p99 under 1 s (200 users).
 * - contention: 200/s for 30 s from 12 users on one product: every order contends for the same
 *   stock row and 12 balances, from all partitions at once.
 * - hot: one coupon, 20,000 users, one partition: the issuer's decisions/s.
 * - api: POST /orders and FCFS requests through the API vs pgbench on the same SQL.
 *
 * Repetitions: this machine (2 shared cores) drifts by several times within an hour, so one run
 * proves nothing. Each scenario runs `--runs N` times (default 3) and the report gives every
 * figure and every ratio as median (min-max) over the runs. A ratio against a limit (relay vs a
 * kafkajs producer; the API vs pgbench) is computed from neighbouring measurements only: each
 * run measures the limit and the system right after it, so the sequence is limit, system,
 * limit, system, ... and each pair shares the machine's state of the moment.
 *
 * `--quick`: shorter durations and smaller counts, for a smoke test of one scenario (e.g.
 * `deno task bench contention --runs 1 --quick`). Its figures are not comparable with a full run.
 *
 * Every run also reports the deltas of deadlocks and rolled-back transactions of the shop
 * database (pg_stat_database: database-wide, so anyone else's work on it counts too) and of
 * dead-lettered records (end offsets of the `shop.*.dlq` topics): all 0 in a normal run. CPU is
 * per process over each load window, beside the machine's total from /proc/stat (resources.ts).
 *
 * The stack is left as found (cleanup.ts), after each run: the run's rows are deleted (users,
 * orders, saga rows, wallets, products, coupons, their outbox rows and inbox claims), and once
 * the relay has published everything, each idle service consumer group's committed offsets are
 * moved past the run's records that no worker consumed (all of them in the api scenario), never
 * past a record that is not the run's. The relay scenario's topics and groups are its own and
 * deleted. Dead letters stay in the `.dlq` topics, for `deno task dlq list`.
 *
 * The stack is shared: consumers someone else runs in the service groups (tests start the same
 * workers) take partitions from the bench's workers. The report says when that happened.
 */
import { parseConfig } from "../src/platform/config.ts";
import { up } from "../stack/cli.ts";
import { setup } from "../src/system_setup.ts";
import { setLogLevel } from "../src/platform/log.ts";
import { connect } from "../src/platform/db.ts";
import { kafkaClient } from "../src/platform/kafka.ts";
import { waitFor } from "../src/platform/wait_for.ts";
import { WORKERS } from "../src/workers.ts";
import { relayLatency } from "./relay_latency.ts";
import { type RelayResult, relayThroughput } from "./relay_throughput.ts";
import { apiWriteBench, type WriteResult } from "./api_write.ts";
import { type LatencyResult, orderLatency } from "./order_latency.ts";
import { hotCoupon, type HotCouponResult } from "./hot_coupon.ts";
import { UsageMeter, type WindowUsage } from "./resources.ts";
import { restore, type Restored, Scratch, serviceGroups } from "./cleanup.ts";
import { type Counters, delta, readCounters } from "./health.ts";
import { fmtSpread, spread, type Summary } from "./stats.ts";

const ALL = ["relay", "orders", "contention", "hot", "api"];
let runs = 3;
let quick = false;
const names: string[] = [];
for (let i = 0; i < Deno.args.length; i++) {
  const a = Deno.args[i];
  if (a === "--quick") quick = true;
  else if (a === "--runs") runs = Number(Deno.args[++i]);
  else if (a.startsWith("--runs=")) runs = Number(a.slice("--runs=".length));
  else if (ALL.includes(a)) names.push(a);
  else {
    throw new Error(
      `unknown argument '${a}': expected scenarios (${ALL.join(", ")}), --runs N, --quick`,
    );
  }
}
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer`);
const wanted = new Set(names.length ? names : ALL);

/** Durations and counts; `--quick` divides them for a smoke test. */
const D = quick
  ? {
    relay: { events: 10_000, warm: 5_000, pacedSeconds: 3 },
    relayOneAtATime: 100,
    orders: [
      { ratePerSecond: 50, seconds: 10 },
      { ratePerSecond: 200, seconds: 10 },
      ...[300, 400, 500, 600, 800, 1000].map((r) => ({ ratePerSecond: r, seconds: 5 })),
    ],
    contention: { ratePerSecond: 200, seconds: 10 },
    hotUsers: 5_000,
    api: { connections: [16, 64, 256], seconds: 4 },
    stallMs: 15_000,
  }
  : {
    relay: { events: 50_000, warm: 20_000, pacedSeconds: 10 },
    relayOneAtATime: 500,
    orders: [
      { ratePerSecond: 50, seconds: 30 },
      { ratePerSecond: 200, seconds: 30 },
      ...[300, 400, 500, 600, 800, 1000].map((r) => ({ ratePerSecond: r, seconds: 15 })),
    ],
    contention: { ratePerSecond: 200, seconds: 30 },
    hotUsers: 20_000,
    api: { connections: [16, 64, 256], seconds: 10 },
    stallMs: 30_000,
  };
const CONTENTION_USERS = 12;

setLogLevel("warn");
await up();
await setup();
const cfg = parseConfig(Deno.env.toObject());
const sql = connect(cfg.databaseUrl, { max: 1, applicationName: "bench" });
const kafka = kafkaClient(cfg.kafkaBrokers, "bench-main");
const admin = kafka.admin();
await admin.connect();

const [{ pg }] = await sql<{ pg: string }[]>`select current_setting('server_version') as pg`;
const machine = {
  cores: navigator.hardwareConcurrency,
  memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
  os: `${Deno.build.os} ${Deno.osRelease()}`,
  versions: `Deno ${Deno.version.deno}, PostgreSQL ${pg}, Kafka 4.3.0, Debezium 3.6.1.Final`,
  settings: `TOPIC_PARTITIONS=${cfg.topicPartitions}, API pool 8, worker batch 500, ` +
    "Debezium poll.interval.ms=20, producer linger.ms=2",
};

/** One run of a scenario: its result (or why it failed), health deltas, cleanup and CPU. */
interface Run<T> {
  run: number;
  startedAt: string;
  result?: T;
  error?: string;
  /** Members in the service groups at the start, not the bench's: they share its partitions. */
  foreignMembers: number;
  health: Counters;
  restored?: Restored;
  restoreError?: string;
  usage: WindowUsage[];
}

const preflight = await serviceGroups(admin);
const report: {
  at: string;
  machine: typeof machine;
  options: { runs: number; quick: boolean; scenarios: string[] };
  preflight: typeof preflight;
  relay?: Run<{ throughput: RelayResult; oneAtATimeMs: Summary }>[];
  orders?: Run<LatencyResult[]>[];
  contention?: Run<LatencyResult[]>[];
  hotCoupon?: Run<HotCouponResult>[];
  apiWrite?: Run<WriteResult[]>[];
} = {
  at: new Date().toISOString(),
  machine,
  options: { runs, quick, scenarios: [...wanted] },
  preflight,
};

const md: string[] = [
  `# Benchmark report ${report.at}`,
  "",
  `Machine: ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}. ${machine.versions}.`,
  `Settings: ${machine.settings}. The whole stack runs on this machine during every scenario.`,
  "",
  `${runs} run(s) per scenario${
    quick ? ", QUICK mode (shorter: not comparable with a full run)" : ""
  }. ` +
  "Figures are median (min-max) over the runs; a single value means the runs agree or there " +
  "was one run. Each ratio is computed within a run, from the limit measured right before the " +
  "system (limit, system, limit, system, ...), then summarized.",
  "",
];
const busy = preflight.filter((g) => g.members > 0 || g.backlog > 0);
if (busy.length) {
  md.push(
    "Before the bench: " + busy.map((g) =>
      `${g.group} had ${g.members} member(s) and ${g.backlog} record(s) waiting`
    ).join("; ") +
      ". Members not started by the bench share its partitions (figures unreliable); a backlog " +
      "is skipped with the bench's own events by the cleanup.",
    "",
  );
}
await Deno.mkdir("results", { recursive: true });
const stamp = report.at.replace(/[:.]/g, "-");
/** Writes what is measured so far, so a failing scenario keeps the earlier ones. */
async function save(): Promise<void> {
  await Deno.writeTextFile(`results/bench-${stamp}.json`, JSON.stringify(report, null, 2));
  await Deno.writeTextFile(`results/bench-${stamp}.md`, md.join("\n"));
}

/** The application names of the processes a run starts (see their `connect` calls). */
const RUN_APPS = ["api", "api-gauges", "pgbench", ...WORKERS];

/**
 * Runs `fn` `runs` times, each with fresh scratch names and a usage meter; reads the health
 * counters around it and restores the stack after it. A failed run is recorded, not fatal.
 */
async function repeat<T>(
  name: string,
  fn: (scratch: Scratch, meter: UsageMeter) => Promise<T>,
  sink: Run<T>[],
  /** Whether its events go to the service groups' topics (all but relay). */
  usesGroups = true,
): Promise<Run<T>[]> {
  for (let run = 1; run <= runs; run++) {
    console.log(`${name}: run ${run}/${runs} ...`);
    // Someone else's workers in the service groups would take partitions from ours (tests start
    // the same workers): give them a minute to leave, then measure anyway and say so.
    const members = async () => (await serviceGroups(admin)).reduce((a, g) => a + g.members, 0);
    let foreignMembers = usesGroups ? await members() : 0;
    if (foreignMembers) {
      console.warn(`  ${foreignMembers} consumer(s) not started by the bench are active; waiting`);
      await waitFor(async () => (foreignMembers = await members()) === 0, {
        timeoutMs: 60_000,
        intervalMs: 2_000,
      }).catch(() => {});
      if (foreignMembers) console.warn(`  warning: measuring with ${foreignMembers} of them`);
    }
    const scratch = await Scratch.open(sql);
    const meter = new UsageMeter();
    const before = await readCounters(sql, admin);
    const rec: Run<T> = {
      run,
      startedAt: new Date().toISOString(),
      foreignMembers,
      health: before,
      usage: meter.windows,
    };
    sink.push(rec);
    try {
      rec.result = await fn(scratch, meter);
    } catch (err) {
      rec.error = err instanceof Error ? err.message : String(err);
      console.error(`  run ${run} failed: ${rec.error}`);
    }
    // A backend reports its statistics when it exits, just after our child (its client) did:
    // wait until the run's backends are gone, or give up after a while (others use the names).
    await waitFor(async () => {
      const [r] = await sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and application_name = any(${RUN_APPS})
          and backend_start >= ${scratch.since}::timestamp at time zone 'utc'`;
      return r.n === 0;
    }, { timeoutMs: 5_000, intervalMs: 100 }).catch(() => {});
    rec.health = delta(before, await readCounters(sql, admin));
    try {
      rec.restored = await restore(cfg, kafka, admin, scratch);
    } catch (err) {
      rec.restoreError = err instanceof Error ? err.message : String(err);
    }
    const h = rec.health;
    console.log(
      `  deadlocks ${h.deadlocks}, rollbacks ${h.rollbacks}, dead letters ${h.deadLetters}; ` +
        `cleanup: ${cleanupText(rec)}`,
    );
    await save();
  }
  return sink;
}

const f = (values: number[]) => fmtSpread(spread(values));
/** An error message fit for a table cell. */
const oneLine = (s: string) => s.replace(/\s+/g, " ").replaceAll("|", "/").slice(0, 300);
const hhmmss = (iso: string) => iso.slice(11, 19);

function cleanupText(r: Run<unknown>): string {
  if (r.restoreError) return `failed: ${oneLine(r.restoreError)}`;
  if (!r.restored) return "-";
  const skipped = r.restored.groups.reduce((a, g) => a + g.skipped, 0);
  const alone = r.restored.groups.filter((g) => g.leftAlone).map((g) =>
    `${g.group}: ${g.leftAlone}`
  );
  const rows = r.restored.keptRows
    ? `business rows kept (${r.restored.keptRows}), ${r.restored.deletedRows} relay rows deleted`
    : `${r.restored.deletedRows} rows deleted`;
  return `${skipped} records skipped, ${rows}` +
    (alone.length ? `; ${alone.join("; ")}` : "");
}

/** Per run: when, outcome, the health deltas and the cleanup. */
function healthTable(rs: Run<unknown>[]): string[] {
  const sum = (k: keyof Counters) => rs.reduce((a, r) => a + r.health[k], 0);
  return [
    "",
    "| run | started (UTC) | outcome | deadlocks | rollbacks | dead letters | cleanup after |",
    "|---|---|---|---|---|---|---|",
    ...rs.map((r) =>
      `| ${r.run} | ${hhmmss(r.startedAt)} | ${r.error ? `failed: ${oneLine(r.error)}` : "ok"}` +
      (r.foreignMembers ? ` (${r.foreignMembers} foreign consumers active)` : "") +
      ` | ${r.health.deadlocks} | ${r.health.rollbacks} | ${r.health.deadLetters} | ${
        cleanupText(r)
      } |`
    ),
    `| all | | | ${sum("deadlocks")} | ${sum("rollbacks")} | ${sum("deadLetters")} | |`,
    "",
  ];
}

/**
 * CPU of each process group per load window (columns), median over the runs, and the machine's
 * total from /proc/stat under it: the processes' sum should come close to user+system.
 */
function usageTable(rs: Run<unknown>[], only: (label: string) => boolean = () => true): string[] {
  const windows = rs.flatMap((r) => r.usage).filter((w) => only(w.label));
  const labels = [...new Set(windows.map((w) => w.label))];
  if (labels.length === 0) return [];
  const of = (label: string) => windows.filter((w) => w.label === label);
  const med = (xs: number[]) => xs.length ? String(spread(xs).median) : "-";
  const processes = [...new Set(windows.flatMap((w) => w.processes.map((p) => p.process)))].sort();
  const cell = (label: string, p: string) =>
    med(
      of(label).flatMap((w) => w.processes.filter((x) => x.process === p).map((x) => x.cpuPercent)),
    );
  const peak = (p: string) =>
    Math.max(
      ...windows.flatMap((w) => w.processes.filter((x) => x.process === p).map((x) => x.maxPssMb)),
    );
  const busiest = new Map<string, number>();
  for (const o of windows.flatMap((w) => w.topOthers)) {
    busiest.set(o.process, (busiest.get(o.process) ?? 0) + o.cpuPercent);
  }
  const topOthers = [...busiest].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([p]) => p)
    .join(", ") || "none";
  const row = (name: string, values: string[], last = "") =>
    `| ${name} | ${values.join(" | ")} | ${last} |`;
  return [
    "",
    `CPU % of one core (${machine.cores} cores = ${
      machine.cores * 100
    }%) during each load window, median of the runs:`,
    "",
    `| process | ${labels.join(" | ")} | peak memory MB (PSS) |`,
    `|---|${labels.map(() => "---|").join("")}---|`,
    ...processes.map((p) => row(p, labels.map((l) => cell(l, p)), String(peak(p)))),
    row("sum of the processes above", labels.map((l) => med(of(l).map((w) => w.processSum)))),
    row(
      `other processes (busiest: ${topOthers})`,
      labels.map((l) => med(of(l).map((w) => w.others))),
    ),
    row(
      "**sum of all processes**",
      labels.map((l) => med(of(l).map((w) => Math.round((w.processSum + w.others) * 10) / 10))),
    ),
    row(
      "**machine busy: user+system+irq+softirq (/proc/stat)**",
      labels.map((l) => med(of(l).map((w) => w.machineBusy))),
    ),
    row("of which irq+softirq", labels.map((l) => med(of(l).map((w) => w.machineIrq)))),
    row("machine steal (hypervisor)", labels.map((l) => med(of(l).map((w) => w.machineSteal)))),
    row("window seconds", labels.map((l) => med(of(l).map((w) => w.seconds)))),
    "",
  ];
}

const ok = <T>(rs: Run<T>[]) => rs.filter((r) => r.result !== undefined).map((r) => r.result!);

/** Orders and contention: one row per rate, each figure median (min-max) over the runs. */
function latencyTable(rs: Run<LatencyResult[]>[]): string[] {
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

/** Rows of the targets table: what, target, measured, met. */
const targets: string[][] = [];
/** A target on a figure's median; the range is shown beside it. */
function target(what: string, goal: string, values: number[], met: (median: number) => boolean) {
  const s = spread(values);
  targets.push([
    what,
    goal,
    fmtSpread(s),
    Number.isFinite(s.median) && met(s.median) ? "yes" : "no",
  ]);
}
/** A target on a count over all runs; a failed run fails it. */
function zeroTarget(what: string, rs: Run<unknown>[], count: number) {
  const failed = rs.filter((r) => r.error).length;
  targets.push([
    what,
    "0",
    `${count}${failed ? ` (${failed} run(s) failed)` : ""}`,
    count === 0 && failed === 0 ? "yes" : "no",
  ]);
}

if (wanted.has("relay")) {
  const rs = await repeat(
    "relay",
    async (_scratch, meter) => ({
      throughput: await relayThroughput(cfg, D.relay, meter),
      oneAtATimeMs: await relayLatency(cfg, D.relayOneAtATime),
    }),
    report.relay ??= [],
    false,
  );
  const res = ok(rs);
  const t = res.map((r) => r.throughput);
  const lat = (percent: number, fn: (s: Summary) => number) =>
    f(t.map((x) => fn(x.latency.find((l) => l.percentOfRelay === percent)!.ms)));
  md.push(
    "## Relay (outbox -> Debezium -> Kafka)",
    "",
    `Events/s until a consumer has all ${D.relay.events}; in each run the limit (a kafkajs producer ` +
      "writing the same records) right before the relay.",
    "",
    "| run | limit: kafkajs producer, events/s (at) | relay, events/s (at) | relay / limit |",
    "|---|---|---|---|",
    ...rs.filter((r) => r.result).map((r) => {
      const x = r.result!.throughput;
      return `| ${r.run} | ${x.directPerSecond} (${hhmmss(x.directAt)}) | ${x.relayPerSecond} (${
        hhmmss(x.relayAt)
      }) | ${x.ratio} |`;
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
    `| one at a time (${D.relayOneAtATime} events) | - | ${
      f(res.map((r) => r.oneAtATimeMs.p50))
    } | ${f(res.map((r) => r.oneAtATimeMs.p95))} | ${f(res.map((r) => r.oneAtATimeMs.p99))} | ${
      f(res.map((r) => r.oneAtATimeMs.max))
    } |`,
    ...healthTable(rs),
    ...usageTable(rs),
  );
  target("relay / direct produce", ">= 0.8", t.map((x) => x.ratio), (m) => m >= 0.8);
  await save();
}

if (wanted.has("orders")) {
  const rs = await repeat(
    "orders",
    (scratch, meter) =>
      orderLatency(cfg, { phases: D.orders, untilP99Ms: 1000, stallMs: D.stallMs }, scratch, meter),
    report.orders ??= [],
  );
  // The sweep stops at the first rate over 1 s; the highest under it is the one before.
  const best = ok(rs).map((ps) =>
    ps.filter((p) => p.latencyMs.p99 <= 1000).at(-1)?.ratePerSecond ?? 0
  );
  const at50 = ok(rs).flatMap((ps) => ps.filter((p) => p.ratePerSecond === 50));
  md.push(
    "## Orders end to end (202 to CONFIRMED, open-loop arrivals, API + relay + 5 workers)",
    "",
    `Highest rate tried with p99 under 1 s: ${f(best)}/s (per run: ${best.join(", ")}). ` +
      "Each run: 50/s, 200/s, then rising until p99 > 1 s; orders from 200 users.",
    "",
    ...latencyTable(rs),
    ...healthTable(rs),
    ...usageTable(rs),
  );
  target("orders at 50/s: p99 ms", "< 150", at50.map((p) => p.latencyMs.p99), (m) => m < 150);
  target("orders: highest rate with p99 < 1 s", ">= 600/s", best, (m) => m >= 600);
  await save();
}

if (wanted.has("contention")) {
  const rs = await repeat(
    "contention",
    (scratch, meter) =>
      orderLatency(
        cfg,
        { phases: [D.contention], users: CONTENTION_USERS, stallMs: D.stallMs },
        scratch,
        meter,
      ),
    report.contention ??= [],
  );
  const ps = ok(rs).flat();
  md.push(
    `## Contention (one product, ${CONTENTION_USERS} wallets, orders keyed by their random ids over all partitions)`,
    "",
    `${D.contention.ratePerSecond}/s for ${D.contention.seconds} s from ${CONTENTION_USERS} users: ` +
      "every order takes the same stock row and one of 12 balances, from all partitions at once.",
    "",
    ...latencyTable(rs),
    ...healthTable(rs),
    ...usageTable(rs),
  );
  zeroTarget("contention: deadlocks, all runs", rs, rs.reduce((a, r) => a + r.health.deadlocks, 0));
  zeroTarget(
    "contention: dead letters, all runs",
    rs,
    rs.reduce((a, r) => a + r.health.deadLetters, 0),
  );
  zeroTarget(
    "contention: orders not CONFIRMED, all runs",
    rs,
    ps.reduce((a, p) => a + p.sent - p.confirmed, 0),
  );
  target("contention: p99 ms", "< 500", ps.map((p) => p.latencyMs.p99), (m) => m < 500);
  await save();
}

if (wanted.has("hot")) {
  const rs = await repeat(
    "hot coupon",
    (scratch, meter) => hotCoupon(cfg, scratch, { users: D.hotUsers, meter }),
    report.hotCoupon ??= [],
  );
  const res = ok(rs);
  const g = (fn: (r: HotCouponResult) => number) => f(res.map(fn));
  md.push(
    `## Hot coupon (${
      D.hotUsers.toLocaleString("en")
    } distinct users, one coupon of 1,000: one key, one partition)`,
    "",
    "| run | API accepted/s | all terminal after s | issuer decisions/s | issued |",
    "|---|---|---|---|---|",
    `| issuer running during the load | ${g((r) => r.live.acceptedPerSecond)} | ${
      g((r) => r.live.allTerminalSeconds)
    } | - | ${g((r) => r.live.issued)} |`,
    `| backlog, then the issuer started | ${g((r) => r.drain.acceptedPerSecond)} | drained in ${
      g((r) => r.drain.drainSeconds)
    } | ${g((r) => r.drain.decisionsPerSecond)} | ${g((r) => r.drain.issued)} |`,
    ...healthTable(rs),
    ...usageTable(rs),
  );
  target(
    "hot coupon: issuer decisions/s",
    ">= 10000",
    res.map((r) => r.drain.decisionsPerSecond),
    (m) => m >= 10_000,
  );
  await save();
}

if (wanted.has("api")) {
  const rs = await repeat(
    "API write path vs pgbench",
    (scratch, meter) => apiWriteBench(cfg, D.api, scratch, meter),
    report.apiWrite ??= [],
  );
  const all = ok(rs).flat();
  const keys = D.api.connections.flatMap((c) =>
    (["issue-requests", "orders"] as const).map((s) => ({ c, s }))
  );
  md.push(
    `## API write path (${D.api.seconds} s per phase; pgbench runs the same SQL at the same connections, right before)`,
    "",
    "| scenario | connections | API accepted/s | API p50 ms | API p99 ms | pgbench tx/s | pgbench p50 ms | pgbench p99 ms | API / pgbench |",
    "|---|---|---|---|---|---|---|---|---|",
    ...keys.map(({ c, s }) => {
      const xs = all.filter((x) => x.connections === c && x.scenario === s);
      const g = (fn: (x: WriteResult) => number | undefined) => f(xs.map((x) => fn(x) ?? NaN));
      return `| ${s} | ${c} | ${g((x) => x.api?.perSecond)} | ${g((x) => x.api?.p50Ms)} | ${
        g((x) => x.api?.p99Ms)
      } | ${g((x) => x.pgbench?.perSecond)} | ${g((x) => x.pgbench?.p50Ms)} | ${
        g((x) => x.pgbench?.p99Ms)
      } | ${g((x) => x.ratio)} |`;
    }),
    "",
    "The alternation, per run (limit first, the system right after; UTC):",
    "",
    "| connections | scenario | run | pgbench tx/s (at) | API accepted/s (at) | API / pgbench |",
    "|---|---|---|---|---|---|",
    ...keys.flatMap(({ c, s }) =>
      rs.flatMap((r) =>
        (r.result ?? []).filter((x) => x.connections === c && x.scenario === s).map((x) =>
          `| ${c} | ${s} | ${r.run} | ${x.pgbench?.perSecond ?? "failed"} (${
            hhmmss(x.pgbenchAt)
          }) | ${x.api?.perSecond ?? "failed"} (${hhmmss(x.apiAt)}) | ${
            Number.isFinite(x.ratio) ? x.ratio : "-"
          } |`
        )
      )
    ),
    ...all.flatMap((x) => x.errors ?? []).map((e) => `\nFailed: ${oneLine(e)}`),
    ...healthTable(rs),
  );
  for (const c of D.api.connections) {
    md.push(`### Resources at ${c} connections`, ...usageTable(rs, (l) => l.startsWith(`${c} `)));
    const fcfs = all.filter((x) => x.connections === c && x.scenario === "issue-requests");
    target(
      `FCFS API / pgbench at ${c} connections`,
      ">= 0.5",
      fcfs.map((x) => x.ratio),
      (m) => m >= 0.5,
    );
  }
  await save();
}

if (targets.length) {
  md.push(
    "## Against the targets (met: by the median)",
    "",
    "| figure | target | measured | met |",
    "|---|---|---|---|",
    ...targets.map((t) => `| ${t.join(" | ")} |`),
    "",
  );
}

await save();
await admin.disconnect();
await sql.end();
console.log(md.join("\n"));
console.log(`\nreport: results/bench-${stamp}.md`);
