/**
 * The orders scenario's per-order cost table: for the pipeline at 200/s and at each run's highest
 * rate with p99 under 1 s, and for the monolith, the statements by role, transactions, Kafka
 * records and CPU ms of each process group, each divided by the window's confirmed orders, as
 * median (min-max) over the runs.
 */
import type { CostWindow } from "../order_cost.ts";
import { f } from "../report_tables.ts";
import type { WindowUsage } from "../resources.ts";

/** One run's figures for one column: its window's counts and usage. */
export interface CostCell {
  confirmed: number;
  cost?: CostWindow;
  usage?: WindowUsage;
}

export interface CostColumn {
  title: string;
  /** One per run that has this column's window. */
  cells: CostCell[];
}

const per = (x: number, c: CostCell) => c.confirmed > 0 ? x / c.confirmed : NaN;

export function costTable(columns: CostColumn[]): string[] {
  const all = columns.flatMap((c) => c.cells);
  const roles = [...new Set(all.flatMap((c) => c.cost?.roles?.map((r) => r.role) ?? []))];
  const processes = [
    ...new Set(all.flatMap((c) => c.usage?.processes.map((p) => p.process) ?? [])),
  ].sort();
  /** A row: the figure of each column, per confirmed order, median (min-max) over its runs. */
  const row = (name: string, figure: (c: CostCell) => number | undefined) =>
    `| ${name} | ${
      columns.map((col) => {
        const values = col.cells.map(figure).filter((x): x is number => x !== undefined);
        return values.length ? f(values) : "-";
      }).join(" | ")
    } |`;
  const statements = (c: CostCell) =>
    c.cost?.roles ? per(c.cost.roles.reduce((a, r) => a + r.statements, 0), c) : undefined;
  const ofRole = (role: string, c: CostCell) => {
    const r = c.cost?.roles?.find((x) => x.role === role);
    return r ? per(r.statements, c) : undefined;
  };
  const cpu = (process: string, c: CostCell) => {
    const p = c.usage?.processes.find((x) => x.process === process);
    return p ? per(p.cpuMs, c) : undefined;
  };
  return [
    "",
    `| per confirmed order | ${columns.map((c) => c.title).join(" | ")} |`,
    `|---|${columns.map(() => "---|").join("")}`,
    row("confirmed orders in the window (not per order)", (c) => c.confirmed),
    row("**statements** (API and workers; monolith: pgbench)", statements),
    ...roles.map((role) => row(`statements of ${role}`, (c) => ofRole(role, c))),
    row(
      "transactions (BEGIN)",
      (c) =>
        c.cost?.roles ? per(c.cost.roles.reduce((a, r) => a + r.transactions, 0), c) : undefined,
    ),
    row(
      "Kafka records produced (outbox rows)",
      (c) => c.cost ? per(c.cost.kafkaRecords, c) : undefined,
    ),
    row(
      "Kafka offsets used (records and transaction markers)",
      (c) => c.cost ? per(c.cost.kafkaOffsets, c) : undefined,
    ),
    ...processes.map((p) => row(`CPU ms: ${p}`, (c) => cpu(p, c))),
    row(
      "**CPU ms, all these processes**",
      (c) => c.usage ? per(c.usage.processes.reduce((a, p) => a + p.cpuMs, 0), c) : undefined,
    ),
    "",
  ];
}
