/**
 * pg_stat_statements, the per-statement counters the bench reads (statements per confirmed order,
 * by role: bench/order_cost.ts). Created by setup as the owner, and only where the server loads
 * its library (the local stack: stack/conf/postgresql.conf), since without it the view fails on
 * every read; elsewhere (compose, a managed database) setup leaves the database as it is.
 *
 * In `public`, not the first schema of the owner's search path (`orders`): `public` is the
 * owner's alone (migrations/0010 revokes it from everyone else), so no service role reads
 * another's statements.
 */
import type { Sql } from "./db.ts";

/** Whether the server preloads pg_stat_statements. */
export async function statementStatsLoaded(sql: Sql): Promise<boolean> {
  const [{ loaded }] = await sql<{ loaded: boolean }[]>`
    select 'pg_stat_statements' = any(
      string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')
    ) as loaded`;
  return loaded;
}

/** Creates the extension where its library is loaded; returns whether it exists now. */
export async function enableStatementStats(sql: Sql): Promise<boolean> {
  if (!(await statementStatsLoaded(sql))) return false;
  await sql`create extension if not exists pg_stat_statements with schema public`;
  return true;
}
