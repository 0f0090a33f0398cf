import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../src/platform/config.ts";
import { LOCAL_STACK, localStack, PORT_OFFSET } from "../../src/platform/local_stack.ts";

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
  assert.equal(c.authJwtMaxLifetimeS, 86_400);
  assert.equal(c.authJwtIssuer, undefined);
  assert.equal(c.authJwtAudience, undefined);
  assert.equal(c.walletMaxBalance, 1e12);
  // Beside the workers' ops ports, shifted like the stack's own ports.
  assert.equal(c.apiOpsPort, 9100 + PORT_OFFSET);
  assert.equal(parseConfig({ API_OPS_PORT: "0" }).apiOpsPort, 0);
});

Deno.test("config: the token policy's variables", () => {
  const c = parseConfig({
    AUTH_JWT_MAX_LIFETIME_S: "3600",
    AUTH_JWT_ISSUER: "shop-auth",
    AUTH_JWT_AUDIENCE: "shop-api",
  });
  assert.equal(c.authJwtMaxLifetimeS, 3600);
  assert.equal(c.authJwtIssuer, "shop-auth");
  assert.equal(c.authJwtAudience, "shop-api");
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
  [
    { AUTH_JWT_MAX_LIFETIME_S: "0" },
    /AUTH_JWT_MAX_LIFETIME_S="0" is not allowed: expected an integer from 60 to 31536000/,
  ],
  [{ AUTH_JWT_MAX_LIFETIME_S: "1d" }, /AUTH_JWT_MAX_LIFETIME_S="1d"/],
  [
    { WALLET_MAX_BALANCE: "0" },
    /WALLET_MAX_BALANCE="0" is not allowed: expected an integer from 1/,
  ],
  [{ WALLET_MAX_BALANCE: "9007199254740993" }, /WALLET_MAX_BALANCE="9007199254740993"/],
  [{ AUTH_JWT_ISSUER: "i".repeat(256) }, /AUTH_JWT_ISSUER="i+" is not allowed: expected 1-255/],
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

Deno.test("config: WORKER_INSTANCE, a replica's stable index; unset or empty: dynamic", () => {
  assert.equal(parseConfig({}).workerInstance, undefined);
  assert.equal(parseConfig({ WORKER_INSTANCE: "" }).workerInstance, undefined);
  assert.equal(parseConfig({ WORKER_INSTANCE: "0" }).workerInstance, 0);
  assert.equal(parseConfig({ WORKER_INSTANCE: "7" }).workerInstance, 7);
  for (const bad of ["-1", "1.5", "x", "1000"]) {
    assert.throws(() => parseConfig({ WORKER_INSTANCE: bad }), /WORKER_INSTANCE=/);
  }
});

Deno.test("config: SERVICE_DATABASE_PASSWORDS, one password per role", () => {
  assert.deepEqual(parseConfig({}).serviceDatabasePasswords, {});
  assert.deepEqual(parseConfig({ SERVICE_DATABASE_PASSWORDS: "" }).serviceDatabasePasswords, {});
  assert.deepEqual(
    parseConfig({
      // The password is everything after the role's `=`, `=` and spaces included; an empty
      // entry (a trailing comma) is skipped.
      SERVICE_DATABASE_PASSWORDS: "shop_api=a1,shop_ops=b=2, shop_payment=c 3,",
    }).serviceDatabasePasswords,
    { shop_api: "a1", shop_ops: "b=2", shop_payment: "c 3" },
  );
  // The single password keeps working beside it (compatibility).
  const both = parseConfig({
    SERVICE_DATABASE_PASSWORD: "all",
    SERVICE_DATABASE_PASSWORDS: "shop_api=own",
  });
  assert.equal(both.serviceDatabasePassword, "all");
  assert.deepEqual(both.serviceDatabasePasswords, { shop_api: "own" });
});

Deno.test("config: a bad SERVICE_DATABASE_PASSWORDS is named, its passwords never shown", () => {
  for (
    const bad of [
      "shop_api",
      "shop_api=",
      "=hunter2",
      "Shop-API=hunter2",
      "shop_api=hunter2,shop_api=hunter3",
    ]
  ) {
    assert.throws(() => parseConfig({ SERVICE_DATABASE_PASSWORDS: bad }), (err: unknown) => {
      assert.ok(err instanceof ConfigError, bad);
      assert.match(err.message, /SERVICE_DATABASE_PASSWORDS=<redacted, \d+ characters>/, bad);
      assert.doesNotMatch(err.message, /hunter|shop_api=/, bad);
      return true;
    });
  }
});
