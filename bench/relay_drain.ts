/**
 * Waiting for the relay: the API scenario drains it between its phases (one phase's Debezium
 * backlog would tax the next), and the clean-up before it moves consumer offsets (an event
 * published later would land past them). Its own module so that neither imports the other.
 */
import type { Sql } from "../src/platform/db.ts";
import { waitFor } from "../src/platform/wait_for.ts";

/** Waits until Debezium has confirmed everything written so far. */
export async function drainRelay(sql: Sql): Promise<void> {
  const [{ lsn }] = await sql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
  await waitFor(async () => {
    const [row] = await sql<{ done: boolean }[]>`
      select confirmed_flush_lsn >= ${lsn}::pg_lsn as done
      from pg_replication_slots where slot_name = 'shop_outbox'`;
    return row?.done;
  }, { timeoutMs: 300_000, intervalMs: 500, what: "the relay to catch up" });
}
