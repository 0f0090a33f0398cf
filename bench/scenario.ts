/**
 * What a scenario of `deno task bench` is: a name for the command line, a run (one repetition:
 * its load, against the whole stack) and a report section over all its runs. bench/scenarios/
 * holds one module per scenario and their registry; main.ts repeats each chosen one (repeat.ts)
 * and writes the report.
 */
import type { Config } from "../src/platform/config.ts";
import type { Sql } from "../src/platform/db.ts";
import type { Admin } from "../src/platform/kafka.ts";
import type { Restored, Scratch } from "./cleanup.ts";
import type { Counters } from "./health.ts";
import type { UsageMeter, WindowUsage } from "./resources.ts";
import type { Machine } from "./machine.ts";

/** What one run of a scenario gets. */
export interface RunContext {
  cfg: Config;
  /** The run's names (users, products, coupons) for the clean-up after it. */
  scratch: Scratch;
  /** The CPU of each process group over the run's load windows. */
  meter: UsageMeter;
  /** `--quick`: shorter durations and smaller counts. */
  quick: boolean;
  /** The owner's connection of the bench (its own queries). */
  sql: Sql;
  admin: Admin;
}

/** What a report section gets besides the runs. */
export interface ReportContext {
  quick: boolean;
  machine: Machine;
}

/** One run of a scenario: its result (or why it failed), health deltas, clean-up and CPU. */
export interface Run<T> {
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

/** A row of the targets table at the report's end (targets.ts): what, target, measured, met. */
export type TargetRow = [string, string, string, string];

/** A report section: Markdown lines, and rows of the targets table at the report's end. */
export interface Section {
  markdown: string[];
  targets: TargetRow[];
}

export interface Scenario<T> {
  /** On the command line: `deno task bench <name>`. */
  name: string;
  /** One line: what it measures. */
  description: string;
  /** In the console, before each run ("hot coupon: run 1/3 ..."). */
  label: string;
  /** Where its runs go in the JSON report. */
  key: string;
  /** Whether its events go to the service groups' topics (repeat.ts waits for foreign members). */
  usesGroups: boolean;
  run(ctx: RunContext): Promise<T>;
  report(runs: Run<T>[], ctx: ReportContext): Section;
}
