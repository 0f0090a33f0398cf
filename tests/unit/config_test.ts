import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../src/platform/config.ts";
import { LOCAL_STACK, localStack } from "../../src/platform/local_stack.ts";

Deno.test("config: defaults point at the local stack", () => {
  const c = parseConfig({});
  assert.equal(c.port, 8080);
  assert.equal(c.databaseUrl, LOCAL_STACK.databaseUrl);
  assert.deepEqual(c.kafkaBrokers, [LOCAL_STACK.kafkaBrokers]);
  assert.equal(c.kafkaConnectUrl, LOCAL_STACK.connectUrl);
  assert.equal(c.authJwtSecret, undefined);
  assert.equal(c.topicPartitions, 4);
  assert.equal(c.topicReplicationFactor, 1);
  assert.equal(c.logLevel, "info");
});

Deno.test("config: values are parsed and typed", () => {
  const c = parseConfig({
    PORT: "9000",
    KAFKA_BROKERS: "a:9092, b:9093",
    TOPIC_PARTITIONS: "8",
    LOG_LEVEL: "debug",
    AUTH_JWT_SECRET: "x".repeat(32),
  });
  assert.equal(c.port, 9000);
  assert.deepEqual(c.kafkaBrokers, ["a:9092", "b:9093"]);
  assert.equal(c.topicPartitions, 8);
  assert.equal(c.logLevel, "debug");
  assert.equal(c.authJwtSecret, "x".repeat(32));
});

const bad: [Record<string, string>, RegExp][] = [
  [{ PORT: "abc" }, /PORT="abc" is not allowed: expected an integer from 1 to 65535/],
  [{ PORT: "70000" }, /PORT="70000"/],
  [{ TOPIC_PARTITIONS: "0" }, /TOPIC_PARTITIONS="0" is not allowed: expected an integer from 1/],
  [{ TOPIC_REPLICATION_FACTOR: "1.5" }, /TOPIC_REPLICATION_FACTOR="1.5"/],
  [{ LOG_LEVEL: "verbose" }, /LOG_LEVEL="verbose" is not allowed: expected one of debug, info/],
  [{ KAFKA_BROKERS: "localhost" }, /KAFKA_BROKERS="localhost" is not allowed: expected a comma/],
  [{ DATABASE_URL: "mysql://x/y" }, /DATABASE_URL="mysql:\/\/x\/y" is not allowed/],
  [{ KAFKA_CONNECT_URL: "not a url" }, /KAFKA_CONNECT_URL="not a url"/],
];
for (const [env, message] of bad) {
  Deno.test(`config: rejects ${JSON.stringify(env)}`, () => {
    assert.throws(() => parseConfig(env), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, message);
      return true;
    });
  });
}

Deno.test("config: every bad variable is named at once", () => {
  assert.throws(() => parseConfig({ PORT: "x", LOG_LEVEL: "y" }), /PORT="x"[\s\S]*LOG_LEVEL="y"/);
});

Deno.test("config: secrets and URL passwords never appear in the message", () => {
  assert.throws(
    () => parseConfig({ AUTH_JWT_SECRET: "short-secret", DATABASE_URL: "mysql://u:hunter2@h/d" }),
    (err: unknown) => {
      const msg = (err as Error).message;
      assert.match(msg, /AUTH_JWT_SECRET=<redacted, 12 characters> is not allowed/);
      assert.doesNotMatch(msg, /short-secret|hunter2/);
      return true;
    },
  );
});

Deno.test("config: a process with a bad value exits non-zero with the named message", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../src/main/migrate.ts", import.meta.url).pathname],
    env: { TOPIC_PARTITIONS: "many", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 78);
  assert.match(
    stderr,
    /TOPIC_PARTITIONS="many" is not allowed: expected an integer from 1 to 1000/,
  );
});

Deno.test("config: STACK_PROFILE=cluster points the defaults at the cluster profile", () => {
  const c = parseConfig({ STACK_PROFILE: "cluster" });
  assert.equal(c.stackProfile, "cluster");
  assert.deepEqual(c.kafkaBrokers, localStack("cluster").kafkaBrokers.split(","));
  assert.equal(c.kafkaBrokers.length, 3);
  assert.equal(c.topicReplicationFactor, 3);
  assert.equal(c.kafkaConnectUrl, localStack("cluster").connectUrl);
  // Explicit values still win over the profile's defaults.
  const own = parseConfig({ STACK_PROFILE: "cluster", TOPIC_REPLICATION_FACTOR: "2" });
  assert.equal(own.topicReplicationFactor, 2);
  assert.throws(() => parseConfig({ STACK_PROFILE: "huge" }), /STACK_PROFILE="huge"/);
});
