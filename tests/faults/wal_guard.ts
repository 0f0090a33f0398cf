/**
 * WAL guard: with the outbox idle while another database on the same cluster keeps writing (what
 * makes WAL pile up behind an idle logical slot), the relay's slot must keep advancing thanks to
 * Debezium's heartbeats, so the WAL it retains stays bounded. Prints the retained bytes over time;
 * exits 1 if they grow past the bound. Duration: WAL_GUARD_SECONDS (default 180).
 */
import { parseConfig } from "../../src/platform/config.ts";
import { connect } from "../../src/platform/db.ts";

const seconds = Number(Deno.env.get("WAL_GUARD_SECONDS") ?? 180);
const BOUND = 64 * 1024 * 1024; // a few heartbeat intervals of this write rate, with room
const cfg = parseConfig(Deno.env.toObject());
const sql = connect(cfg.databaseUrl, { max: 1, applicationName: "wal-guard" });
const other = new URL(cfg.databaseUrl);
other.pathname = "/wal_guard_noise";
await sql`drop database if exists wal_guard_noise`;
await sql`create database wal_guard_noise`;
const noise = connect(other.toString(), { max: 1, applicationName: "wal-guard" });
await noise`create table noise (id bigserial primary key, pad text)`;

const retained = async () => {
  const [r] = await sql<{ bytes: number }[]>`
    select pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 as bytes
    from pg_replication_slots where slot_name = 'shop_outbox'`;
  return r.bytes;
};

const samples: number[] = [];
const started = performance.now();
let written = 0;
try {
  while (performance.now() - started < seconds * 1000) {
    // About 1 MB of WAL per second in a database the relay does not watch.
    await noise`insert into noise (pad) select repeat('x', 1000) from generate_series(1, 1000)`;
    written += 1;
    if (written % 10 === 0) {
      samples.push(await retained());
      console.log(
        `${Math.round((performance.now() - started) / 1000)} s: slot retains ${
          samples.at(-1)
        } bytes`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000)); // the write rate, not a sync point
  }
} finally {
  await noise.end();
  await sql`drop database if exists wal_guard_noise with (force)`;
  await sql.end();
}
const max = Math.max(...samples);
const last = samples.at(-1)!;
console.log(
  `WAL guard: ${written} MB of unrelated WAL in ${seconds} s; slot retained max ${max} bytes, last ${last}`,
);
if (last > BOUND) {
  console.error(
    `FAILED: the slot retains ${last} bytes (> ${BOUND}): heartbeats do not advance it`,
  );
  Deno.exit(1);
}
