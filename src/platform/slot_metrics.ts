/** Relay gauge, refreshed in the background: WAL retained behind the replication slot, in bytes. */
import type { Sql } from "./db.ts";
import { dbGauge } from "./metrics.ts";

/** The slot's lag: how far Debezium's confirmed position is behind the WAL's end. */
export async function slotLag(
  sql: Sql,
): Promise<{ slot: string; active: boolean; lagBytes: number }[]> {
  return await sql<{ slot: string; active: boolean; lagBytes: number }[]>`
    select slot_name as slot, active,
           coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::float8 as "lagBytes"
    from pg_replication_slots where slot_type = 'logical'`;
}

/** The slot's lag as a gauge, refreshed in the background (see `dbGauge`). */
export const registerSlotMetrics = dbGauge({
  name: "replication_slot_lag_bytes",
  help: "WAL bytes retained behind the relay's replication slot",
  labelNames: ["slot"] as const,
}, async (sql, gauge) => {
  const slots = await slotLag(sql);
  gauge.reset();
  for (const s of slots) gauge.set({ slot: s.slot }, s.lagBytes);
});
