/**
 * No loss across a relay outage: with Kafka Connect down, 100 events commit; when it comes back,
 * Debezium resumes from its slot and all 100 arrive (duplicates allowed, loss not).
 */
import assert from "node:assert/strict";
import { components } from "../../stack/components.ts";
import { connectorStatus } from "../../relay/register.ts";
import { topicFor } from "../../src/events/topics.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { cfg, collect, createTopics, db, real, unique } from "../helpers/stack.ts";
import { adHocPublisher } from "../helpers/ad_hoc_events.ts";

Deno.test(
  "relay: 100 events committed while Kafka Connect is down all arrive after it restarts",
  real,
  async () => {
    const aggregateType = unique("t-");
    const topic = topicFor(aggregateType);
    await createTopics(topic);
    const sql = db();
    const connect = components.connect;
    try {
      await connect.stop({ kill: true });
      assert.equal(await connect.pid(), undefined, "Connect is down");

      const { publish } = adHocPublisher(
        aggregateType,
        { DuringOutage: 1 },
        (p) => `agg-${Number(p.i) % 7}`,
      );
      const ids: string[] = [];
      for (let i = 0; i < 100; i++) {
        ids.push(
          ...await sql.begin((tx) => publish(tx, [{ type: "DuringOutage", payload: { i } }])),
        );
      }

      await connect.start();
      await waitFor(async () => {
        const s = await connectorStatus(cfg.kafkaConnectUrl, "shop-outbox");
        return s?.connector.state === "RUNNING" && s.tasks.every((t) => t.state === "RUNNING");
      }, { timeoutMs: 60_000, what: "the connector to run again" });

      const want = new Set(ids);
      const records = await collect(
        topic,
        (rs) => new Set(rs.map((r) => r.headers.id).filter((id) => want.has(id))).size === 100,
        90_000,
      );
      const arrived = new Set(records.map((r) => r.headers.id));
      assert.deepEqual(ids.filter((id) => !arrived.has(id)), [], "no event lost");
      // Per key, events arrive in commit order (first occurrence of each id).
      for (let k = 0; k < 7; k++) {
        const sent = ids.filter((_, i) => i % 7 === k);
        const seen = [
          ...new Set(records.filter((r) => r.key === `agg-${k}`).map((r) => r.headers.id)),
        ];
        assert.deepEqual(seen, sent, `order of key agg-${k}`);
      }
    } finally {
      await connect.start();
      await sql.end();
    }
  },
);
