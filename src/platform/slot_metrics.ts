/** Relay gauge, read at scrape time: WAL retained behind the replication slot, in bytes. */
import client from "prom-client";
import type { Sql } from "./db.ts";
import { registry } from "./metrics.ts";

let source: Sql | undefined;

/** The slot's lag: how far Debezium's confirmed position is behind the WAL's end. */
export async function slotLag(
  sql: Sql,
): Promise<{ slot: string; active: boolean; lagBytes: number }[]> {
  return await sql<{ slot: string; active: boolean; lagBytes: number }[]>`
    select slot_name as slot, active,
           coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::float8 as "lagBytes"
    from pg_replication_slots where slot_type = 'logical'`;
}

/** Registers the gauge once per process; later calls only switch the pool it reads from. */
export function registerSlotMetrics(sql: Sql): void {
  const first = source === undefined;
  source = sql;
  if (!first) return;
  new client.Gauge({
    name: "replication_slot_lag_bytes",
    help: "WAL bytes retained behind the relay's replication slot",
    labelNames: ["slot"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await slotLag(source!)) this.set({ slot: s.slot }, s.lagBytes);
    },
  });
}
