/**
 * The report's last table: each target figure, its goal, what was measured and whether it is
 * met. A figure is judged by its median over the runs (the range beside it); a count that must
 * stay 0 is summed over all runs, and a failed run fails it.
 */
import type { Run, TargetRow } from "./scenario.ts";
import { fmtSpread, spread } from "./stats.ts";

/** A target on a figure's median; the range is shown beside it. */
export function target(
  what: string,
  goal: string,
  values: number[],
  met: (median: number) => boolean,
): TargetRow {
  const s = spread(values);
  return [what, goal, fmtSpread(s), Number.isFinite(s.median) && met(s.median) ? "yes" : "no"];
}

/** A target on a count over all runs; a failed run fails it. */
export function zeroTarget(what: string, rs: Run<unknown>[], count: number): TargetRow {
  const failed = rs.filter((r) => r.error).length;
  return [
    what,
    "0",
    `${count}${failed ? ` (${failed} run(s) failed)` : ""}`,
    count === 0 && failed === 0 ? "yes" : "no",
  ];
}

export function targetsTable(rows: TargetRow[]): string[] {
  if (rows.length === 0) return [];
  return [
    "## Against the targets (met: by the median)",
    "",
    "| figure | target | measured | met |",
    "|---|---|---|---|",
    ...rows.map((t) => `| ${t.join(" | ")} |`),
    "",
  ];
}
