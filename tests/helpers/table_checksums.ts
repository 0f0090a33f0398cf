/**
 * "No table changed": a checksum of every row of every application table, so an UPDATE (a wallet
 * balance, a coupon's issued quantity) shows as well as an INSERT or a DELETE. Row counts miss the
 * UPDATE.
 *
 * The tables come from the catalog, not a list: every ordinary table in every schema but the
 * system ones (`pg_*`, `information_schema`). A table added by a migration, or moved into another
 * schema (the per-service schemas), is covered without touching this file.
 *
 * Nothing is excluded by the API tests that use it, because nothing else writes while they run:
 * `deno test` runs one test file at a time, the in-process app (`createApp`) schedules no job, and
 * the relay's heartbeat writes no table (`pg_logical_emit_message`). What does write in the
 * background (the API process's outbox and Idempotency-Key purges, the workers' inbox purges,
 * deadline sweeps and event handling) runs only in processes other test files start and stop, or in
 * `deno task dev`, which must not share a database with these tests. A table that does change
 * under a test for reasons of its own goes in `exclude`, with the reason beside it.
 */
import type { Sql, Tx } from "../../src/platform/db.ts";

interface Table {
  /** `schema.table`. */
  name: string;
  /** The name as an SQL identifier and as an SQL string, quoted by Postgres. */
  quoted: string;
  literal: string;
}

async function tables(sql: Sql | Tx): Promise<Table[]> {
  return await sql<Table[]>`
    select n.nspname || '.' || c.relname as name,
           format('%I.%I', n.nspname, c.relname) as quoted,
           quote_literal(n.nspname || '.' || c.relname) as literal
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'r' and n.nspname <> 'information_schema' and n.nspname !~ '^pg_'
    order by 1`;
}

/** Every ordinary table outside the system schemas, as `schema.table`. */
export async function applicationTables(sql: Sql | Tx): Promise<string[]> {
  return (await tables(sql)).map((t) => t.name);
}

/**
 * `schema.table` -> its row count and the sum of a 64-bit hash of each row's text form, for every
 * application table but `exclude`. Any changed value changes its row's hash, so the sum (but for a
 * 2^-64 chance); equal contents give equal sums whatever the physical order, and an UPDATE that
 * writes the same values is no change. A sum needs no sort: md5 over the rows in text order costs
 * 3-5 times as much (measured on 200,000 outbox rows: 0.8 s against 2.4-4 s), and these tests
 * take a checksum around every request. All tables are read by one statement, so from one snapshot.
 */
export async function tableChecksums(
  sql: Sql | Tx,
  opts: { exclude?: string[] } = {},
): Promise<Record<string, string>> {
  const rows = await tables(sql);
  const exclude = new Set(opts.exclude ?? []);
  for (const name of exclude) {
    if (!rows.some((r) => r.name === name)) throw new Error(`no table ${name} to exclude`);
  }
  const included = rows.filter((r) => !exclude.has(r.name));
  if (included.length === 0) return {};
  // Names are quoted by Postgres itself (format %I, quote_literal), so any name is safe here.
  const query = included.map((t) =>
    `select ${t.literal} as name, (select count(*) || ':' || ` +
    `coalesce(sum(hashtextextended(r::text, 0)), 0) from ${t.quoted} r) as checksum`
  ).join(" union all ");
  const out: Record<string, string> = {};
  for (const r of await sql.unsafe<{ name: string; checksum: string }[]>(query)) {
    out[r.name] = r.checksum;
  }
  return out;
}
