/**
 * The relay end to end: outbox writer -> Postgres WAL -> Debezium + Outbox Event Router -> Kafka.
 * Each test writes under its own aggregate type, so it has its own topic.
 */
import assert from "node:assert/strict";
import { purgeOutbox } from "../../src/platform/outbox.ts";
import { RELAY_SLOT } from "../../relay/slot.ts";
import { topicFor } from "../../src/events/topics.ts";
import { uuidv7Time } from "../../src/platform/uuidv7.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { collect, createTopics, db, real, unique } from "../helpers/stack.ts";
import { adHocPublisher } from "../helpers/ad_hoc_events.ts";

Deno.test(
  "relay: a committed event arrives routed, keyed, with headers and its exact payload; a rolled-back one never does",
  real,
  async () => {
    const aggregateType = unique("t-");
    const topic = topicFor(aggregateType);
    await createTopics(topic);
    const sql = db();
    const aggregateId = crypto.randomUUID();
    const payload = {
      orderId: aggregateId,
      items: [{ productId: "p-1", quantity: 2, unitPrice: 1500 }],
      note: 'ünïcödé "quoted" <tag> \' -- ;',
      nested: { empty: [], nil: null, big: 9007199254740991, flag: true },
    };
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const { publish } = adHocPublisher(
      aggregateType,
      { TestHappened: 2, TestRolledBack: 1, TestAfter: 1 },
      () => aggregateId,
    );
    try {
      const [committedId] = await sql.begin((tx) =>
        publish(tx, [{ type: "TestHappened", payload }], traceparent)
      );
      let rolledBackId = "";
      await assert.rejects(
        sql.begin(async (tx) => {
          [rolledBackId] = await publish(tx, [{
            type: "TestRolledBack",
            payload: { never: true },
          }]);
          throw new Error("roll back");
        }),
        /roll back/,
      );
      // Same key, so same partition, after the rolled-back one: once it arrives, anything the
      // rolled-back transaction could have produced would already be there.
      const [afterId] = await sql.begin((tx) =>
        publish(tx, [{ type: "TestAfter", payload: { n: 3 } }])
      );

      const records = await collect(topic, (rs) => rs.some((r) => r.headers.id === afterId));
      const got = records.find((r) => r.headers.id === committedId);
      assert.ok(got, "the committed event arrived");
      assert.equal(got.topic, `shop.${aggregateType}`);
      assert.equal(got.key, aggregateId);
      assert.equal(got.headers.eventType, "TestHappened");
      assert.equal(got.headers.eventVersion, "2");
      assert.equal(got.headers.traceparent, traceparent);
      assert.deepEqual(JSON.parse(got.value!), payload);
      // The record timestamp is the event's creation time (UUIDv7 time, within a second).
      assert.ok(
        Math.abs(got.timestamp - uuidv7Time(committedId)) < 1000,
        `timestamp ${got.timestamp}`,
      );

      assert.equal(records.filter((r) => r.headers.id === rolledBackId).length, 0);
      assert.equal(records.filter((r) => r.headers.eventType === "TestRolledBack").length, 0);
      // Order within the key holds.
      const ids = records.map((r) => r.headers.id);
      assert.ok(ids.indexOf(committedId) < ids.indexOf(afterId));
    } finally {
      await sql.end();
    }
  },
);

Deno.test(
  "relay: purging outbox rows produces no records; the publication streams inserts only",
  real,
  async () => {
    const aggregateType = unique("t-");
    const topic = topicFor(aggregateType);
    await createTopics(topic);
    const sql = db();
    try {
      const [pub] = await sql<{ pubinsert: boolean; pubupdate: boolean; pubdelete: boolean }[]>`
      select pubinsert, pubupdate, pubdelete from pg_publication where pubname = 'shop_outbox'`;
      assert.deepEqual({ ...pub }, { pubinsert: true, pubupdate: false, pubdelete: false });
      const tables =
        await sql`select tablename from pg_publication_tables where pubname = 'shop_outbox'`;
      assert.deepEqual(tables.map((t) => t.tablename), ["outbox"]);

      const aggregateId = crypto.randomUUID();
      const { publish } = adHocPublisher(aggregateType, { A: 1, B: 1 }, () => aggregateId);
      const [first] = await publish(sql, [{ type: "A", payload: {} }]);
      await collect(topic, (rs) => rs.some((r) => r.headers.id === first));
      // Age the row instead of waiting: purge only this test's row by its age.
      await sql`update outbox set created_at = created_at - interval '1 day' where id = ${first}`;
      // Streamed, so purgeable once the slot's catalog_xmin passes it (15-30 s behind).
      await waitFor(async () => {
        await purgeOutbox(sql, 12 * 3600_000, { slot: RELAY_SLOT });
        return (await sql`select 1 from outbox where id = ${first}`).length === 0;
      }, { timeoutMs: 120_000, intervalMs: 500, what: "the purge to delete the relayed row" });
      const [second] = await publish(sql, [{ type: "B", payload: {} }]);
      const records = await collect(topic, (rs) => rs.some((r) => r.headers.id === second));
      assert.deepEqual(records.map((r) => r.headers.id), [first, second]);
    } finally {
      await sql.end();
    }
  },
);
