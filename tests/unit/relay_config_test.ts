import assert from "node:assert/strict";
import { connectorConfig, readConnectorFile } from "../../relay/register.ts";
import { parseConfig } from "../../src/platform/config.ts";
import { dlqTopicFor, topicFor } from "../../src/events/topics.ts";
import { EVENTS } from "../../src/events/catalog.ts";
import { runWithStubs, taskFile } from "../helpers/stub_modules.ts";

Deno.test("relay config: the settings the outbox relies on", async () => {
  const { config: c } = await readConnectorFile();
  assert.equal(c["plugin.name"], "pgoutput");
  assert.equal(c["publication.autocreate.mode"], "filtered");
  assert.equal(c["table.include.list"], "platform.outbox"); // migration 0008 moved it
  assert.equal(c["snapshot.mode"], "no_data");
  assert.ok(c["slot.name"]);
  // Exactly-once into Kafka: the connector refuses to start on a worker without it.
  assert.equal(c["exactly.once.support"], "required");
  assert.equal(c["transaction.boundary"], "poll");
  // Debezium reads the task's offsets back after every transaction; when the offsets consumer
  // misses Connect's wakeup it waits out its parked fetch, and the relay with it (the default
  // 500 ms made the p99 at moderate rates half a second; docs/decisions.md).
  assert.ok(Number(c["consumer.override.fetch.max.wait.ms"]) <= 50);
  // A task that lost the database restarts after 1 s, not Debezium's default 10 s.
  assert.ok(Number(c["retriable.restart.connector.wait.ms"]) <= 1000);
  assert.ok(Number(c["heartbeat.interval.ms"]) > 0 && c["heartbeat.action.query"]);
  assert.equal(c["transforms.outbox.type"], "io.debezium.transforms.outbox.EventRouter");
  assert.equal(c["transforms.outbox.table.field.event.key"], "aggregateid");
  assert.match(c["transforms.outbox.table.fields.additional.placement"], /type:header:eventType/);
  assert.match(
    c["transforms.outbox.table.fields.additional.placement"],
    /traceparent:header:traceparent/,
  );
});

/**
 * The topic Debezium's Outbox Event Router gives an outbox row whose `route.by.field` column holds
 * `value`: Kafka's RegexRouter over the value with `route.topic.regex` and
 * `route.topic.replacement` (Debezium's defaults when unset). Java's `Matcher.matches()` needs the
 * whole value to match, else the value itself is the topic; the replacement is Java's: `${name}` and
 * `$n` are groups, a backslash makes the next character literal.
 */
function routerTopic(c: Record<string, string>, value: string): string {
  const regex = c["transforms.outbox.route.topic.regex"] ?? "(?<routedByValue>.*)";
  const replacement = c["transforms.outbox.route.topic.replacement"] ??
    "outbox.event.${routedByValue}";
  const m = new RegExp(`^(?:${regex})$`).exec(value);
  if (!m) return value;
  let out = "";
  for (let i = 0; i < replacement.length; i++) {
    const ch = replacement[i];
    if (ch === "\\") {
      out += replacement[++i];
    } else if (ch === "$") {
      const named = /^\{([a-zA-Z][a-zA-Z0-9]*)\}/.exec(replacement.slice(i + 1));
      const numbered = /^\d+/.exec(replacement.slice(i + 1));
      const group = named ? m.groups?.[named[1]] : numbered ? m[Number(numbered[0])] : undefined;
      assert.ok(group !== undefined, `replacement ${replacement}: no group at ${i}`);
      out += group;
      i += (named ?? numbered)![0].length;
    } else {
      out += ch;
    }
  }
  return out;
}

/** Every aggregate type the event catalog writes to the outbox. */
const catalogAggregates = [...new Set(Object.values(EVENTS).map((e) => e.aggregate as string))];

/**
 * The topics `deno task topics` (what setup runs) asks Kafka to create, on a broker that has none:
 * the Kafka client is replaced by an admin that records them.
 */
async function topicsCreated(): Promise<string[]> {
  const run = await runWithStubs(await taskFile("topics"), [{
    module: "src/platform/kafka.ts",
    body: `export function kafkaAccess() {
      return { brokers: ["127.0.0.1:1"], login: "anonymous" };
    }
    export function kafkaClient() {
      return {
        admin: () => ({
          connect: async () => {},
          disconnect: async () => {},
          listTopics: async () => [],
          describeAcls: async () => ({ resources: [] }),
          createAcls: async () => true,
          createTopics: async ({ topics }) => { for (const t of topics) record(t.topic); return true; },
          fetchTopicMetadata: async () => ({ topics: [] }),
        }),
      };
    }`,
  }]);
  assert.equal(run.code, 0, run.stderr);
  return run.records as string[];
}

Deno.test("relay config: the router sends each catalog aggregate to the topic the code uses", async () => {
  // The connector file and src/events/topics.ts each define the topic names; consumers subscribe
  // to topicFor's, so a router that writes anywhere else loses every event of that aggregate.
  const { config: c } = await readConnectorFile();
  // The outbox column the writer fills with the event's aggregate (tests/integration/relay_test.ts
  // proves the routing on real rows through Debezium).
  assert.equal(c["transforms.outbox.route.by.field"] ?? "aggregatetype", "aggregatetype");
  assert.ok(catalogAggregates.length > 0);
  for (const aggregate of catalogAggregates) {
    assert.equal(routerTopic(c, aggregate), topicFor(aggregate), `aggregate ${aggregate}`);
  }
  // Distinct aggregates stay on distinct topics.
  const topics = catalogAggregates.map((a) => routerTopic(c, a));
  assert.equal(new Set(topics).size, topics.length);
});

Deno.test("relay config: setup creates every topic the router writes to, and its dead letters", async () => {
  const { config: c } = await readConnectorFile();
  const created = await topicsCreated();
  assert.equal(new Set(created).size, created.length, "each topic asked for once");
  const routed = catalogAggregates.map((a) => routerTopic(c, a));
  for (const topic of routed) {
    assert.ok(created.includes(topic), `${topic} is created`);
    assert.ok(created.includes(dlqTopicFor(topic)), `${dlqTopicFor(topic)} is created`);
  }
  // Nothing else: every created topic is one the router writes to or a dead-letter topic of one.
  assert.deepEqual(
    [...created].sort(),
    routed.flatMap((t) => [t, dlqTopicFor(t)]).sort(),
  );
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
  // Debezium logs in as the relay's own role, whatever user the URL names, and its password
  // reaches Connect through the worker's config provider, never in the connector's config.
  assert.equal(c["database.user"], "shop_relay");
  assert.equal(c["database.password"], "${env:RELAY_DATABASE_PASSWORD}");
  assert.equal(c["database.dbname"], "shopdb");
  assert.equal(c["topic.creation.default.partitions"], "12");
  assert.equal(c["topic.creation.default.replication.factor"], "3");

  const relayed = await connectorConfig(
    parseConfig({ RELAY_DATABASE_URL: "postgres://u@postgres:5432/shop" }),
  );
  assert.equal(relayed.config["database.hostname"], "postgres");
});
