/**
 * Pieces every report section uses: a figure over the runs as median (min-max), the per-run
 * table of outcome, health deltas and clean-up, and the CPU table of the load windows.
 */
import type { Counters } from "./health.ts";
import type { Run } from "./scenario.ts";
import { fmtSpread, spread } from "./stats.ts";

/** A figure over the runs: `median (min-max)`. */
export const f = (values: number[]) => fmtSpread(spread(values));
/** An error message fit for a table cell. */
export const oneLine = (s: string) => s.replace(/\s+/g, " ").replaceAll("|", "/").slice(0, 300);
export const hhmmss = (iso: string) => iso.slice(11, 19);
/** The results of the runs that did not fail. */
export const ok = <T>(rs: Run<T>[]) =>
  rs.filter((r) => r.result !== undefined).map((r) => r.result!);

/** What the clean-up after a run did, in a few words. */
export function cleanupText(r: Run<unknown>): string {
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
export function healthTable(rs: Run<unknown>[]): string[] {
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
export function usageTable(
  rs: Run<unknown>[],
  cores: number,
  only: (label: string) => boolean = () => true,
): string[] {
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
    `CPU % of one core (${cores} cores = ${
      cores * 100
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
