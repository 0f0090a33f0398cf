/**
 * The outbox purge deletes only rows a replication slot has streamed. Uses a scratch logical slot
 * of its own, never the relay's (`shop_outbox`) nor Kafka Connect: rows past retention survive
 * while the slot is behind them and are deleted once it has been advanced past them.
 */
import assert from "node:assert/strict";
import { readConnectorFile } from "../../relay/register.ts";
import { purgeOutbox } from "../../src/platform/outbox.ts";
import { RELAY_SLOT } from "../../relay/slot.ts";
import type { Logger } from "../../src/platform/log.ts";
import type { Sql } from "../../src/platform/db.ts";
import { topicFor } from "../../src/events/topics.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { createTopics, db, real, unique } from "../helpers/stack.ts";
import { adHocPublisher } from "../helpers/ad_hoc_events.ts";

// No worker consumes it; the relay streams these rows to shop.test like any other.
const AGGREGATE_TYPE = "test";
// Other tests age their rows by a day or two and other runs of this test may purge at the same
// time: rows aged 20 years against a 10-year retention keep every purge here to its own rows.
const AGE = "20 years";
const RETENTION_MS = 10 * 365 * 24 * 3600_000;

async function insertAged(sql: Sql, aggregateId: string, n: number): Promise<string[]> {
  const { publish } = adHocPublisher(AGGREGATE_TYPE, { PurgeProbe: 1 }, () => aggregateId);
  const ids = await sql.begin((tx) =>
    publish(tx, Array.from({ length: n }, (_, i) => ({ type: "PurgeProbe", payload: { i } })))
  );
  await sql`update outbox set created_at = created_at - ${AGE}::interval
            where id = any(${ids}::uuid[])`;
  return ids;
}

async function left(sql: Sql, ids: string[]): Promise<number> {
  return (await sql`select 1 from outbox where id = any(${ids}::uuid[])`).length;
}

Deno.test("outbox purge: RELAY_SLOT is the connector's slot.name", async () => {
  assert.equal(RELAY_SLOT, (await readConnectorFile()).config["slot.name"]);
});

Deno.test(
  "outbox purge: rows past retention stay while the slot is behind them, go once it is past",
  real,
  async () => {
    await createTopics(topicFor(AGGREGATE_TYPE));
    const sql = db();
    const slot = unique("test_purge_");
    let ids: string[] = [];
    try {
      await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`;
      const [{ before }] = await sql<{ before: string }[]>`
        select pg_current_wal_lsn()::text as before`;
      ids = await insertAged(sql, slot, 3);

      // The slot has confirmed nothing since it was created, before the rows.
      await purgeOutbox(sql, RETENTION_MS, { slot });
      assert.equal(await left(sql, ids), 3, "unstreamed rows survive");

      // Behind: confirmed up to just before the rows' transaction.
      await sql`select pg_replication_slot_advance(${slot}, ${before}::pg_lsn)`;
      await purgeOutbox(sql, RETENTION_MS, { slot });
      assert.equal(await left(sql, ids), 3, "rows past the slot's position survive");

      // Past them: catalog_xmin follows at the next running-transactions record the slot
      // decodes (Postgres logs one every 15 s or so), so advance and purge until they are gone.
      await waitFor(async () => {
        await sql`select pg_replication_slot_advance(${slot}, pg_current_wal_lsn())`;
        await purgeOutbox(sql, RETENTION_MS, { slot });
        return (await left(sql, ids)) === 0;
      }, { timeoutMs: 120_000, intervalMs: 500, what: "the purge to delete the streamed rows" });
    } finally {
      await sql`select pg_drop_replication_slot(slot_name) from pg_replication_slots
                where slot_name = ${slot}`;
      await sql`delete from outbox where id = any(${ids}::uuid[])`;
      await sql.end();
    }
  },
);

Deno.test(
  "outbox purge: without the slot nothing is purged, and the log says why",
  real,
  async () => {
    const sql = db();
    const warnings: string[] = [];
    const log: Logger = {
      debug() {},
      info() {},
      warn: (msg, fields) => void warnings.push(`${msg} ${JSON.stringify(fields)}`),
      error() {},
      child: () => log,
    };
    const slot = unique("test_missing_");
    let ids: string[] = [];
    try {
      ids = await insertAged(sql, slot, 1);
      assert.equal(await purgeOutbox(sql, RETENTION_MS, { slot, log }), 0);
      assert.equal(await left(sql, ids), 1);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /outbox purge skipped: the replication slot does not exist/);
      assert.match(warnings[0], new RegExp(slot));
    } finally {
      await sql`delete from outbox where id = any(${ids}::uuid[])`;
      await sql.end();
    }
  },
);
