/**
 * Relay gauges, refreshed in the background: WAL retained behind the replication slot, in bytes
 * and in seconds.
 */
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

/**
 * Ages the WAL a slot has not confirmed: Postgres keeps no time per WAL position (pg_stat_replication's
 * `flush_lag` exists only while the relay is connected, and is null once it is idle), so this
 * remembers when it saw the WAL's end at each position. A slot's lag in seconds is the age of the
 * first sample past the slot's confirmed position: the WAL passed that position at most one
 * sample interval earlier, so the value errs low by at most that interval, and a process started
 * while a slot was already behind counts from its first sample only.
 */
export class WalClock {
  /** (time in ms, WAL end in bytes), oldest first, every one past some slot's confirmed position. */
  #samples: { at: number; lsn: number }[] = [];
  readonly #maxSamples: number;

  /** `maxSamples`: memory bound; past it the oldest sample goes (the lag then errs low). */
  constructor(opts: { maxSamples?: number } = {}) {
    const { maxSamples = 10_000 } = opts;
    if (!Number.isInteger(maxSamples) || maxSamples < 1) {
      throw new RangeError(
        `Cannot keep WAL samples as 'maxSamples' must be a positive integer: current value is ${maxSamples}`,
      );
    }
    this.#maxSamples = maxSamples;
  }

  /**
   * Records the WAL's end `lsn` (bytes) at `at` (ms) and returns each slot's lag in seconds:
   * 0 for a slot that has confirmed everything up to `lsn`.
   * @example
   * const clock = new WalClock();
   * clock.observe(0, 100, { s: 100 }); // { s: 0 }
   * clock.observe(5000, 200, { s: 100 }); // { s: 0 }: the WAL passed 100 only now
   * clock.observe(9000, 300, { s: 150 }); // { s: 4 }
   */
  observe(at: number, lsn: number, confirmed: Record<string, number>): Record<string, number> {
    const last = this.#samples.at(-1);
    if (!last || lsn > last.lsn) this.#samples.push({ at, lsn });
    const oldest = Math.min(...Object.values(confirmed));
    // Confirmed positions only move forward: samples at or below the least of them never
    // answer a question again.
    while (this.#samples.length > 0 && this.#samples[0].lsn <= oldest) this.#samples.shift();
    while (this.#samples.length > this.#maxSamples) this.#samples.shift();
    const out: Record<string, number> = {};
    for (const [slot, c] of Object.entries(confirmed)) {
      const first = c >= lsn ? undefined : this.#samples.find((s) => s.lsn > c);
      out[slot] = first ? Math.max(0, (at - first.at) / 1000) : 0;
    }
    return out;
  }
}

const walClock = new WalClock();

/**
 * The slot's lag in seconds as a gauge (see `WalClock`): read on each background refresh of the
 * gauges, so its resolution is their interval (5 s in the API).
 */
export const registerSlotLagSeconds = dbGauge({
  name: "replication_slot_lag_seconds",
  help: "Seconds since the WAL first passed the relay slot's confirmed position (0: caught up); " +
    "estimated from this process's samples of the WAL's end, so it errs low by one refresh",
  labelNames: ["slot"] as const,
}, async (sql, gauge) => {
  const rows = await sql<{ slot: string; lsn: number; confirmed: number }[]>`
    select slot_name as slot, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 as lsn,
           coalesce(pg_wal_lsn_diff(confirmed_flush_lsn, '0/0'), 0)::float8 as confirmed
    from pg_replication_slots where slot_type = 'logical'`;
  gauge.reset();
  if (rows.length === 0) return;
  const lags = walClock.observe(
    performance.now(),
    rows[0].lsn,
    Object.fromEntries(rows.map((r) => [r.slot, r.confirmed])),
  );
  for (const [slot, seconds] of Object.entries(lags)) gauge.set({ slot }, seconds);
});
