/**
 * The runs of one scenario: `--runs N` repetitions, each with fresh scratch names and a usage
 * meter, the health counters read around it (deadlocks, rollbacks, dead letters: health.ts) and
 * the stack restored after it (cleanup.ts). A failed run is recorded, not fatal, and the report
 * is saved after every run, so a failure keeps what was measured.
 */
import type { Config } from "../src/platform/config.ts";
import type { Sql } from "../src/platform/db.ts";
import type { Admin, Kafka } from "../src/platform/kafka.ts";
import { waitFor } from "../src/platform/wait_for.ts";
import { WORKERS } from "../src/workers.ts";
import { restore, Scratch, serviceGroups } from "./cleanup.ts";
import { delta, readCounters } from "./health.ts";
import { UsageMeter } from "./resources.ts";
import { cleanupText } from "./report_tables.ts";
import type { Run, RunContext } from "./scenario.ts";

/** What the runs share: the stack's clients, the options and where the report is saved. */
export interface Bench {
  cfg: Config;
  sql: Sql;
  kafka: Kafka;
  admin: Admin;
  runs: number;
  quick: boolean;
  /** Writes the report as measured so far. */
  save: () => Promise<void>;
}

/** The application names of the processes a run starts (see their `connect` calls). */
const RUN_APPS = ["api", "api-gauges", "pgbench", ...WORKERS];

/**
 * Runs `fn` `bench.runs` times into `sink` (the report's array, so that a save in between holds
 * the runs so far). `usesGroups`: whether its events go to the service groups' topics.
 */
export async function repeat<T>(
  bench: Bench,
  name: string,
  fn: (ctx: RunContext) => Promise<T>,
  sink: Run<T>[],
  usesGroups = true,
): Promise<Run<T>[]> {
  const { cfg, sql, kafka, admin, runs } = bench;
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
      rec.result = await fn({ cfg, scratch, meter, quick: bench.quick, sql, admin });
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
    await bench.save();
  }
  return sink;
}
