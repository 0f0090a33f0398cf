/**
 * `deno task bench [relay] [orders] [hops] [contention] [hot] [api] [--runs N] [--quick]`: the
 * benchmark suite against the local stack, each figure next to its limit measured in the same
 * run. Brings the stack up and runs setup first; writes Markdown and JSON reports to results/
 * (after every run, so a failure keeps what was measured). No scenario named: all, in the order
 * above.
 *
 * Each scenario is a module of bench/scenarios/ (registry.ts lists them) with its run and its
 * report section:
 * - relay: outbox -> Debezium -> Kafka events/s vs a kafkajs producer; commit-to-consume latency.
 * - orders: 202 -> CONFIRMED latency at 50/s and 200/s, then a sweep for the highest rate with
 *   p99 under 1 s (200 users); beside it the monolith (the same business work as one transaction
 *   per order, pgbench) and the cost per confirmed order of both.
 * - hops: orders at 50/s, each hop split into the relay's part and the consumer's (hop_tail.ts).
 * - contention: 200/s for 30 s from 12 users on one product: every order contends for the same
 *   stock row and 12 balances, from all partitions at once.
 * - hot: one coupon, 20,000 users, one partition: the issuer's decisions/s.
 * - api: POST /orders and FCFS requests through the API vs pgbench on the same SQL.
 *
 * Repetitions: this machine (2 shared cores) drifts by several times within an hour, so one run
 * proves nothing. Each scenario runs `--runs N` times (default 3, repeat.ts) and the report gives
 * every figure and every ratio as median (min-max) over the runs. A ratio against a limit (relay
 * vs a kafkajs producer; the API vs pgbench; the pipeline vs the monolith) is computed from
 * neighbouring measurements only (alternation.ts): each run measures the limit and the system
 * right after it, so the sequence is limit, system, limit, system, ... and each pair shares the
 * machine's state of the moment.
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
import { kafkaAccess, kafkaClient } from "../src/platform/kafka.ts";
import { PRINCIPALS } from "../src/kafka_acls.ts";
import { serviceGroups } from "./cleanup.ts";
import { parseBenchArgs } from "./cli_args.ts";
import { describeMachine } from "./machine.ts";
import { type Bench, repeat } from "./repeat.ts";
import type { Run, TargetRow } from "./scenario.ts";
import { SCENARIOS } from "./scenarios/registry.ts";
import { targetsTable } from "./targets.ts";

const { wanted, runs, quick } = parseBenchArgs(Deno.args, SCENARIOS.map((s) => s.name));

setLogLevel("warn");
await up();
await setup();
const cfg = parseConfig(Deno.env.toObject());
const sql = connect(cfg.databaseUrl, { max: 1, applicationName: "bench" });
const kafka = kafkaClient(kafkaAccess(cfg, PRINCIPALS.bench), "bench-main");
const admin = kafka.admin();
await admin.connect();

const machine = await describeMachine(sql, cfg);
const preflight = await serviceGroups(admin);
/** The JSON report: the header, then each scenario's runs under its key, in the order run. */
const report: Record<string, unknown> & { at: string } = {
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

const bench: Bench = { cfg, sql, kafka, admin, runs, quick, save };
const targets: TargetRow[] = [];
for (const scenario of SCENARIOS.filter((s) => wanted.has(s.name))) {
  const sink = (report[scenario.key] ??= []) as Run<unknown>[];
  const rs = await repeat(
    bench,
    scenario.label,
    (ctx) => scenario.run(ctx),
    sink,
    scenario.usesGroups,
  );
  const section = scenario.report(rs, { quick, machine });
  md.push(...section.markdown);
  targets.push(...section.targets);
  await save();
}
md.push(...targetsTable(targets));

await save();
await admin.disconnect();
await sql.end();
console.log(md.join("\n"));
console.log(`\nreport: results/bench-${stamp}.md`);
