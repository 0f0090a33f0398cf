/**
 * api: POST /orders and FCFS issue requests through the API (wrk) vs pgbench on the same SQL at
 * the same connections, right before (the limit), at 16, 64 and 256 connections.
 */
import { apiWriteBench, type WriteResult } from "../api_write.ts";
import { f, healthTable, hhmmss, ok, oneLine, usageTable } from "../report_tables.ts";
import type { Scenario, TargetRow } from "../scenario.ts";
import { target } from "../targets.ts";

const settings = (quick: boolean) =>
  quick ? { connections: [16, 64, 256], seconds: 4 } : { connections: [16, 64, 256], seconds: 10 };

export const api: Scenario<WriteResult[]> = {
  name: "api",
  description: "POST /orders and FCFS requests through the API vs pgbench on the same SQL",
  label: "API write path vs pgbench",
  key: "apiWrite",
  usesGroups: true,
  run({ cfg, scratch, meter, quick }) {
    return apiWriteBench(cfg, settings(quick), scratch, meter);
  },
  report(rs, { quick, machine }) {
    const s = settings(quick);
    const all = ok(rs).flat();
    const keys = s.connections.flatMap((c) =>
      (["issue-requests", "orders"] as const).map((s) => ({ c, s }))
    );
    const markdown = [
      `## API write path (${s.seconds} s per phase; pgbench runs the same SQL at the same connections, right before)`,
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
    ];
    const targets: TargetRow[] = [];
    for (const c of s.connections) {
      markdown.push(
        `### Resources at ${c} connections`,
        ...usageTable(rs, machine.cores, (l) => l.startsWith(`${c} `)),
      );
      const fcfs = all.filter((x) => x.connections === c && x.scenario === "issue-requests");
      targets.push(target(
        `FCFS API / pgbench at ${c} connections`,
        ">= 0.5",
        fcfs.map((x) => x.ratio),
        (m) => m >= 0.5,
      ));
    }
    return { markdown, targets };
  },
};
