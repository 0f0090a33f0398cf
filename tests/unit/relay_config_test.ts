import assert from "node:assert/strict";
import { connectorConfig, readConnectorFile } from "../../relay/register.ts";
import { parseConfig } from "../../src/platform/config.ts";
import { TOPIC_PREFIX, topicFor } from "../../src/events/topics.ts";

Deno.test("relay config: the settings the outbox relies on", async () => {
  const { config: c } = await readConnectorFile();
  assert.equal(c["plugin.name"], "pgoutput");
  assert.equal(c["publication.autocreate.mode"], "filtered");
  assert.equal(c["table.include.list"], "public.outbox");
  assert.equal(c["snapshot.mode"], "no_data");
  assert.ok(c["slot.name"]);
  assert.ok(Number(c["heartbeat.interval.ms"]) > 0 && c["heartbeat.action.query"]);
  assert.equal(c["transforms.outbox.type"], "io.debezium.transforms.outbox.EventRouter");
  assert.equal(c["transforms.outbox.table.field.event.key"], "aggregateid");
  assert.match(c["transforms.outbox.table.fields.additional.placement"], /type:header:eventType/);
  assert.match(
    c["transforms.outbox.table.fields.additional.placement"],
    /traceparent:header:traceparent/,
  );
  // The TypeScript topic rule and the router's agree.
  assert.equal(c["transforms.outbox.route.topic.replacement"], `${TOPIC_PREFIX}\${routedByValue}`);
  assert.equal(topicFor("order"), "shop.order");
});

Deno.test("relay config: database and topic settings come from the environment", async () => {
  const cfg = parseConfig({
    DATABASE_URL: "postgres://app:s%40cret@db.internal:6543/shopdb",
    TOPIC_PARTITIONS: "12",
    TOPIC_REPLICATION_FACTOR: "3",
  });
  const { config: c } = await connectorConfig(cfg);
  assert.equal(c["database.hostname"], "db.internal");
  assert.equal(c["database.port"], "6543");
  assert.equal(c["database.user"], "app");
  assert.equal(c["database.password"], "s@cret");
  assert.equal(c["database.dbname"], "shopdb");
  assert.equal(c["topic.creation.default.partitions"], "12");
  assert.equal(c["topic.creation.default.replication.factor"], "3");

  const relayed = await connectorConfig(
    parseConfig({ RELAY_DATABASE_URL: "postgres://u@postgres:5432/shop" }),
  );
  assert.equal(relayed.config["database.hostname"], "postgres");
});
