/**
 * Retention cannot lose events: with Kafka Connect down (the relay's slot inactive), outbox rows
 * aged past the retention survive the purge; once Connect is back every event arrives, and only
 * then does the purge delete them.
 *
 * It stops Kafka Connect, so it breaks any test that needs the relay meanwhile: run it alone,
 * `deno test -A tests/faults/purge_outage_test.ts`, on a running stack with setup done.
 */
import assert from "node:assert/strict";
import { components } from "../../stack/components.ts";
import { connectorStatus } from "../../relay/register.ts";
import { purgeOutbox } from "../../src/platform/outbox.ts";
import { RELAY_SLOT } from "../../relay/slot.ts";
import { topicFor } from "../../src/events/topics.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { cfg, collect, createTopics, db, real, unique } from "../helpers/stack.ts";
import { adHocPublisher } from "../helpers/ad_hoc_events.ts";

const HOUR = 3600_000;
const EVENTS = 50;

Deno.test(
  "purge: with Kafka Connect down no unstreamed row is purged; after restart every event arrives",
  real,
  async () => {
    const aggregateType = unique("t-");
    const topic = topicFor(aggregateType);
    await createTopics(topic);
    const sql = db();
    const connect = components.connect;
    const retentionMs = cfg.outboxRetentionHours * HOUR;
    const mine = async (ids: string[]) =>
      (await sql`select 1 from outbox where id = any(${ids}::uuid[])`).length;
    try {
      await connect.stop({ kill: true });
      // The walsender notices the dropped connection on its own; the slot is then inactive.
      await waitFor(async () => {
        const [s] = await sql<{ active: boolean }[]>`
          select active from pg_replication_slots where slot_name = ${RELAY_SLOT}`;
        return s && !s.active;
      }, { timeoutMs: 30_000, what: `slot ${RELAY_SLOT} to be inactive` });

      const { publish } = adHocPublisher(
        aggregateType,
        { DuringOutage: 1 },
        (p) => `agg-${Number(p.i) % 5}`,
      );
      const ids: string[] = [];
      for (let i = 0; i < EVENTS; i++) {
        ids.push(
          ...await sql.begin((tx) => publish(tx, [{ type: "DuringOutage", payload: { i } }])),
        );
      }
      const pastRetention = retentionMs / 1000 + 3600;
      await sql`update outbox set created_at = created_at - make_interval(secs => ${pastRetention})
                where id = any(${ids}::uuid[])`;

      // The production rule, the relay's slot and the configured retention.
      await purgeOutbox(sql, retentionMs, { slot: RELAY_SLOT });
      assert.equal(await mine(ids), EVENTS, "no unstreamed row purged");

      await connect.start();
      await waitFor(async () => {
        const s = await connectorStatus(cfg.kafkaConnectUrl, "shop-outbox");
        return s?.connector.state === "RUNNING" && s.tasks.every((t) => t.state === "RUNNING");
      }, { timeoutMs: 60_000, what: "the connector to run again" });

      const want = new Set(ids);
      const records = await collect(
        topic,
        (rs) => new Set(rs.map((r) => r.headers.id).filter((id) => want.has(id))).size === EVENTS,
        90_000,
      );
      const arrived = new Set(records.map((r) => r.headers.id));
      assert.deepEqual(ids.filter((id) => !arrived.has(id)), [], "every event arrives");

      // Streamed and confirmed: the slot's catalog_xmin passes them within a few
      // running-transactions records (about 15 s apart), and the purge deletes them.
      await waitFor(async () => {
        await purgeOutbox(sql, retentionMs, { slot: RELAY_SLOT });
        return (await mine(ids)) === 0;
      }, { timeoutMs: 120_000, intervalMs: 1000, what: "the purge to delete the relayed rows" });
    } finally {
      await connect.start();
      await sql.end();
    }
  },
);
