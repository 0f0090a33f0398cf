/** How the bench's per-order cost counts pg_stat_statements entries (bench/statement_kind.ts). */
import assert from "node:assert/strict";
import { statementKind } from "../../bench/statement_kind.ts";

Deno.test("statement kind: transaction control apart, as pgbench and postgres.js send it", () => {
  for (const q of ["BEGIN", "begin", "begin isolation level serializable", "START TRANSACTION"]) {
    assert.equal(statementKind(q), "begin", q);
  }
  for (const q of ["COMMIT", "commit", "ROLLBACK", "rollback", "END", "-- done\nCOMMIT"]) {
    assert.equal(statementKind(q), "end", q);
  }
  assert.equal(statementKind("rollback to savepoint s1"), "statement");
  assert.equal(statementKind("ROLLBACK TO s1"), "statement");
  assert.equal(statementKind("savepoint s1"), "statement");
});

Deno.test("statement kind: probes and the bench's own reads are no order's cost", () => {
  for (
    const q of [
      "select $1",
      "select 1",
      "SELECT $1;",
      "select pg_stat_statements_reset()",
      "select pg_current_wal_lsn()::text as lsn",
      "select confirmed_flush_lsn >= $1::pg_lsn as done from pg_replication_slots where slot_name = $2",
    ]
  ) assert.equal(statementKind(q), "excluded", q);
});

Deno.test("statement kind: business statements count, whatever their first word", () => {
  for (
    const q of [
      "select id, price from products where id = any($1::uuid[])",
      "update wallets set balance = balance - $1 where user_id = $2 and balance >= $1",
      "with o as (insert into orders.orders values ($1)) select 1",
      "select $1 as x, status from orders where id = $2",
      "/* x */ insert into inventory_reservations (order_id, status) values ($1, $2)",
      "begin_work_table_update()",
    ]
  ) assert.equal(statementKind(q), "statement", q);
});
