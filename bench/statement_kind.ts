/**
 * What a pg_stat_statements entry counts as in the per-order cost: a statement, a transaction's
 * start (BEGIN: the transactions are counted apart), its end (COMMIT or ROLLBACK: part of the
 * transaction, not counted again), or no cost of an order's (a readiness or dependency probe's
 * `select 1`, and the bench's own reads of the counters and the relay's slot).
 */
export type StatementKind = "statement" | "begin" | "end" | "excluded";

/** Leading whitespace and `--` or block comments, which a client may send before a statement. */
const LEAD = String.raw`^(?:\s+|--[^\n]*(?:\n|$)|/\*[\s\S]*?\*/)*`;
const BEGIN = new RegExp(LEAD + String.raw`(?:begin|start\s+transaction)\b`, "i");
// ROLLBACK TO SAVEPOINT continues the transaction: a statement.
const END = new RegExp(
  LEAD + String.raw`(?:commit|end|abort|rollback(?!\s+(?:work\s+|transaction\s+)?to\b))\b`,
  "i",
);
/** `select 1` once normalized (`select $1`): the API's readiness and the workers' probes. */
const PROBE = new RegExp(LEAD + String.raw`select\s+(?:\$1|1)\s*;?\s*$`, "i");
/** The bench's own queries in a window: the counters, their reset, the relay drain. */
const BENCH_OWN = /pg_stat_statements|pg_current_wal_lsn|pg_replication_slots/i;

export function statementKind(query: string): StatementKind {
  if (BEGIN.test(query)) return "begin";
  if (END.test(query)) return "end";
  if (PROBE.test(query) || BENCH_OWN.test(query)) return "excluded";
  return "statement";
}
