/**
 * compose.yaml cannot run here (no Docker engine), so this test parses it and checks that it
 * describes the system, that every file and task it references exists, and that both of its
 * profiles match the local stack (stack/conf/*, src/platform/local_stack.ts): the same Kafka and
 * Connect settings, the same host ports, published on 127.0.0.1 only. The setup task its setup
 * services run is run too, its steps recorded, to check what it does rather than what its source says.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { CLUSTER_NODES, LOCAL_PORTS, PORT_OFFSET } from "../../src/platform/local_stack.ts";
import { SERVICE_ROLES } from "../../src/system_setup.ts";
import { parseConfig } from "../../src/platform/config.ts";
import {
  BROKER_USER,
  CONTROLLER_USER,
  PRINCIPALS,
  scramUsers,
  SUPER_USERS,
  workerPrincipal,
} from "../../src/kafka_acls.ts";
import { SERVICES } from "../../src/workers.ts";
import { API_ROLE, OPS_ROLE } from "../../src/app.ts";
import { runWithStubs, taskFile } from "../helpers/stub_modules.ts";

/** The local stack's default port (compose publishes those, whatever STACK_PORT_OFFSET says). */
const base = (port: number) => port - PORT_OFFSET;

const root = new URL("../../", import.meta.url);
const compose = parse(await Deno.readTextFile(new URL("compose.yaml", root)), { merge: true });
const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
const WORKERS = [
  "coupon-issuer",
  "inventory",
  "coupon-redeemer",
  "payment",
  "order-saga",
  "best-sellers",
];

type Service = {
  profiles?: string[];
  ports?: string[];
  networks?: Record<string, { aliases?: string[] }>;
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string[];
  entrypoint?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string; required?: boolean }>;
};
const services: Record<string, Service> = compose.services;

function exists(path: string): boolean {
  try {
    Deno.statSync(new URL(path, root));
    return true;
  } catch {
    return false;
  }
}

Deno.test("compose: has every piece of the system", () => {
  const cluster = ["kafka-1", "kafka-2", "kafka-3", "connect-1", "connect-2", "setup-cluster"];
  for (const s of ["postgres", "kafka", "connect", "setup", ...cluster, "api", ...WORKERS]) {
    assert.ok(services[s], `service ${s}`);
  }
  assert.ok(services.postgres.command!.join(" ").includes("wal_level=logical"));
  assert.match(services.kafka.image!, /^apache\/kafka:4\./);
  assert.match(services.connect.image!, /^quay\.io\/debezium\/connect:3\.6/);
  assert.equal(services.kafka.environment!.KAFKA_PROCESS_ROLES, "broker,controller");
});

Deno.test("compose: every referenced file and deno task exists", () => {
  for (const [name, s] of Object.entries(services)) {
    if (s.build) {
      const ctx = typeof s.build === "string" ? s.build : s.build.context;
      const file = typeof s.build === "string" ? "Dockerfile" : s.build.dockerfile ?? "Dockerfile";
      assert.ok(exists(`${ctx}/${file}`), `${name}: ${ctx}/${file}`);
    }
    const cmd = s.command ?? [];
    if (cmd[0] === "deno" && cmd[1] === "task") {
      const task = denoJson.tasks[cmd[2]];
      assert.ok(task, `${name}: deno task ${cmd[2]}`);
      for (const file of task.match(/[\w./-]+\.ts/g) ?? []) {
        assert.ok(exists(file), `${name}: ${file} of task ${cmd[2]}`);
      }
    }
    for (const arg of cmd.filter((a) => /\.(ts|json|sql)$/.test(a))) {
      assert.ok(exists(arg), `${name}: ${arg}`);
    }
    // Bind mounts of the repository's files, and an entrypoint that runs one of them.
    const mounts = new Map<string, string>();
    for (const v of s.volumes ?? []) {
      const [src, target] = v.split(":");
      if (src.startsWith("./")) {
        assert.ok(exists(src), `${name}: mounts ${src}`);
        mounts.set(target, src);
      }
    }
    for (const arg of (s.entrypoint ?? []).filter((a) => a.startsWith("/opt/shop/"))) {
      assert.ok(mounts.has(arg), `${name}: its entrypoint runs ${arg}, which no volume mounts`);
    }
  }
  const dockerfile = Deno.readTextFileSync(new URL("Dockerfile", root));
  for (const [, src] of dockerfile.matchAll(/^COPY (\S+)/gm)) {
    assert.ok(exists(src), `Dockerfile copies ${src}`);
  }
});

Deno.test("compose: workers run the architecture's groups, after either profile's setup", () => {
  for (const w of [...WORKERS, "api"]) {
    if (w !== "api") assert.deepEqual(services[w].command, ["deno", "task", "worker", w]);
    assert.equal(services[w].profiles, undefined, `${w} runs in both profiles`);
    for (const setup of ["setup", "setup-cluster"]) {
      assert.deepEqual(services[w].depends_on?.[setup], {
        condition: "service_completed_successfully",
        // Only one profile's setup exists in a run.
        required: false,
      });
    }
  }
  assert.deepEqual(services.setup.command, ["deno", "task", "setup"]);
  assert.ok(exists("relay/connector.json"));
  // Where the database is, and no user: each service logs in as its own role (below).
  assert.equal(services.api.environment!.DATABASE_URL, "postgres://postgres:5432/shop");
});

/**
 * The steps compose's setup service relies on, each replaced by a recorder (the real ones need and
 * change a running stack). The task's own file runs as the task runs it, so a step that is
 * commented out, called but not awaited, or called out of order shows in the trace.
 */
const STEPS = [
  { module: "src/platform/migrations.ts", fn: "migrate", result: "{ applied: [] }" },
  { module: "src/system_topics.ts", fn: "createSystemTopics", result: "undefined" },
  { module: "src/system_topics.ts", fn: "applyAcls", result: "undefined" },
  { module: "relay/register.ts", fn: "registerConnector", result: "undefined" },
];

/**
 * Setting a role's password, recorded with the password (the test's own values): which role
 * got which is what the per-role passwords are about.
 */
const PASSWORD_STUB = {
  module: "src/platform/role_password.ts",
  body: `export async function setRolePassword(_sql, role, password) {
    await turn();
    record(["password", role, password]);
  }`,
};

/** pg_stat_statements, created where the server loads it (the local stack): here, as if not. */
const STATEMENT_STATS_STUB = {
  module: "src/platform/statement_stats.ts",
  body: `export async function enableStatementStats() {
    await turn();
    return false;
  }`,
};

/**
 * Runs the setup task with the steps recorded; `fail` names a step that throws; `env` is added to
 * the task's environment.
 */
async function runSetup(
  fail?: string,
  env: Record<string, string> = {},
): Promise<{ code: number; trace: unknown[]; output: string }> {
  // One stub per module: a module's steps (topics, then ACLs) share it.
  const bodies = new Map<string, string[]>();
  for (const s of STEPS) {
    bodies.set(s.module, [
      ...bodies.get(s.module) ?? [],
      `export async function ${s.fn}() {
      record("start ${s.fn}");
      await turn();
      if (Deno.env.get("SETUP_FAIL") === "${s.fn}") throw new Error("injected failure");
      record("end ${s.fn}");
      return ${s.result};
    }`,
    ]);
  }
  const stubs = [...bodies].map(([module, body]) => ({ module, body: body.join("\n") }));
  const run = await runWithStubs(await taskFile("setup"), [
    ...stubs,
    PASSWORD_STUB,
    STATEMENT_STATS_STUB,
  ], {
    ...env,
    ...fail ? { SETUP_FAIL: fail } : {},
  });
  if (!fail && run.code !== 0) console.error(run.stderr);
  return { code: run.code, trace: run.records, output: run.stdout + run.stderr };
}

Deno.test("compose: the setup task migrates, then creates topics, applies the ACLs, then registers the relay", async () => {
  // Writes made before the slot exists are never relayed, and workers need their topics: each step
  // must have finished before the next starts, and the process must say so with exit code 0.
  const { code, trace } = await runSetup();
  assert.equal(code, 0);
  assert.deepEqual(trace, STEPS.flatMap((s) => [`start ${s.fn}`, `end ${s.fn}`]));
});

Deno.test("compose: a failed setup step stops the task with a non-zero exit", async () => {
  // compose starts the API and workers on the setup service's successful completion only.
  for (const [i, s] of STEPS.entries()) {
    const { code, trace } = await runSetup(s.fn);
    assert.notEqual(code, 0, `${s.fn} failed, setup exited ${code}`);
    const expected = STEPS.slice(0, i).flatMap((p) => [`start ${p.fn}`, `end ${p.fn}`]);
    assert.deepEqual(trace, [...expected, `start ${s.fn}`], `nothing after ${s.fn}`);
  }
});

Deno.test("compose: setup sets each service role's own password, after migrating, before topics", async () => {
  const own = SERVICE_ROLES.map((r, i) => [r, `pw-${i}-${r}`]);
  const { code, trace } = await runSetup(undefined, {
    SERVICE_DATABASE_PASSWORDS: own.map(([r, p]) => `${r}=${p}`).join(","),
  });
  assert.equal(code, 0);
  assert.deepEqual(trace, [
    "start migrate",
    "end migrate",
    ...own.map(([r, p]) => ["password", r, p]),
    ...STEPS.slice(1).flatMap((s) => [`start ${s.fn}`, `end ${s.fn}`]),
  ]);
});

Deno.test("compose: SERVICE_DATABASE_PASSWORD still sets one password on the roles not named", async () => {
  const { code, trace } = await runSetup(undefined, {
    SERVICE_DATABASE_PASSWORD: "shared",
    SERVICE_DATABASE_PASSWORDS: "shop_ops=ops-own",
  });
  assert.equal(code, 0);
  const set = trace.filter((t) => Array.isArray(t));
  assert.deepEqual(
    set,
    SERVICE_ROLES.map((r) => ["password", r, r === "shop_ops" ? "ops-own" : "shared"]),
  );
  // Neither: no role's password changes (the local stack trusts loopback).
  const none = await runSetup();
  assert.deepEqual(none.trace.filter((t) => Array.isArray(t)), []);
});

Deno.test("compose: setup refuses a password for a role that is no service role, before any step", async () => {
  const { code, trace, output } = await runSetup(undefined, {
    SERVICE_DATABASE_PASSWORDS: "shop_api=own-pw,shop_relay=hunter2",
  });
  assert.notEqual(code, 0);
  assert.deepEqual(trace, []);
  assert.match(output, /setup failed.*shop_relay.*no service role/);
  assert.doesNotMatch(output, /hunter2|own-pw/);
});

/** `key=value` lines of a stack/conf file, placeholders left as they are. */
function properties(name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of Deno.readTextFileSync(new URL(`stack/conf/${name}`, root)).split("\n")) {
    const m = /^\s*([a-z][\w.-]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** A Kafka image variable for a broker property: `min.insync.replicas` -> KAFKA_MIN_INSYNC_REPLICAS. */
const kafkaVar = (key: string) => `KAFKA_${key.toUpperCase().replaceAll(".", "_")}`;

const env = (s: string) => services[s].environment ?? {};
const str = (v: unknown) => String(v);

Deno.test("compose: profiles: single is the default (.env), the cluster is its own set", () => {
  const dotenv = Deno.readTextFileSync(new URL(".env", root));
  assert.match(dotenv, /^COMPOSE_PROFILES=single$/m);
  for (const s of ["kafka", "connect", "setup"]) assert.deepEqual(services[s].profiles, ["single"]);
  for (const s of ["kafka-1", "kafka-2", "kafka-3", "connect-1", "connect-2", "setup-cluster"]) {
    assert.deepEqual(services[s].profiles, ["cluster"], s);
  }
  // The system's `kafka` and `connect` addresses reach node 1 and worker 1 in the cluster.
  assert.deepEqual(services["kafka-1"].networks?.default.aliases, ["kafka"]);
  assert.deepEqual(services["connect-1"].networks?.default.aliases, ["connect"]);
  // The cluster profile names its three brokers in KAFKA_BROKERS (the Deno permissions need each).
  assert.equal(env("api").KAFKA_BROKERS, "${KAFKA_BROKERS:-kafka:9092}");
  assert.equal(env("api").KAFKA_CONNECT_URL, "http://connect:8083");
});

Deno.test("compose: the cluster's Kafka nodes match stack/conf/server-cluster.properties", () => {
  const conf = properties("server-cluster.properties");
  const same = [
    "process.roles",
    "auto.create.topics.enable",
    "default.replication.factor",
    "min.insync.replicas",
    "unclean.leader.election.enable",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.min.isr",
    "group.initial.rebalance.delay.ms",
    "broker.heartbeat.interval.ms",
    "broker.session.timeout.ms",
  ];
  assert.equal(conf["default.replication.factor"], "3");
  assert.equal(conf["min.insync.replicas"], "2");
  assert.equal(conf["unclean.leader.election.enable"], "false");
  for (const node of CLUSTER_NODES) {
    const name = `kafka-${node.id}`;
    const e = env(name);
    for (const key of same) assert.equal(str(e[kafkaVar(key)]), conf[key], `${name}: ${key}`);
    assert.equal(str(e.KAFKA_NODE_ID), String(node.id));
    assert.equal(e.KAFKA_CONTROLLER_QUORUM_VOTERS, "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093");
    // The host listener: advertised as the loopback port the host reaches, published there.
    assert.match(
      e.KAFKA_ADVERTISED_LISTENERS,
      new RegExp(`HOST://127\\.0\\.0\\.1:${base(node.port)}$`),
    );
    assert.deepEqual(services[name].ports, [`127.0.0.1:${base(node.port)}:29092`]);
  }
  assert.equal(new Set(CLUSTER_NODES.map((n) => env(`kafka-${n.id}`).CLUSTER_ID)).size, 1);
  // The single node: its own listener on the single stack's port.
  assert.match(env("kafka").KAFKA_ADVERTISED_LISTENERS, /HOST:\/\/127\.0\.0\.1:59092$/);
  assert.deepEqual(services.kafka.ports, [`127.0.0.1:${base(LOCAL_PORTS.kafka)}:29092`]);
  const single = properties("server.properties");
  for (const key of ["offsets.topic.replication.factor", "transaction.state.log.min.isr"]) {
    assert.equal(str(env("kafka")[kafkaVar(key)]), single[key], `kafka: ${key}`);
  }
});

Deno.test("compose: Connect workers match stack/conf/connect.properties", () => {
  const conf = properties("connect.properties");
  const workers: [string, number, string][] = [
    ["connect", base(LOCAL_PORTS.connect), "1"],
    ["connect-1", base(LOCAL_PORTS.connect), "3"],
    ["connect-2", base(LOCAL_PORTS.connect2), "3"],
  ];
  for (const [name, port, rf] of workers) {
    const e = env(name);
    assert.equal(e.GROUP_ID, conf["group.id"], `${name}: one group`);
    for (const key of ["config", "offset", "status"]) {
      assert.equal(e[`${key.toUpperCase()}_STORAGE_TOPIC`], conf[`${key}.storage.topic`]);
      assert.equal(str(e[`${key.toUpperCase()}_STORAGE_REPLICATION_FACTOR`]), rf, `${name} ${key}`);
    }
    for (
      const key of [
        "offset.flush.interval.ms",
        "scheduled.rebalance.max.delay.ms",
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "producer.acks",
        "producer.enable.idempotence",
        "exactly.once.source.support",
        // The relay's password: a placeholder in the connector config, resolved by the worker.
        "config.providers",
        "config.providers.env.class",
        "config.providers.env.param.allowlist.pattern",
      ]
    ) {
      const v = `CONNECT_${key.toUpperCase().replaceAll(".", "_")}`;
      assert.equal(str(e[v]), conf[key], `${name}: ${key}`);
    }
    assert.deepEqual(services[name].ports, [`127.0.0.1:${port}:8083`]);
  }
  assert.equal(conf["producer.acks"], "all");
  assert.equal(conf["producer.enable.idempotence"], "true");
  assert.equal(conf["exactly.once.source.support"], "enabled");
  assert.equal(env("connect-1").BOOTSTRAP_SERVERS, "kafka-1:9092,kafka-2:9092,kafka-3:9092");
});

Deno.test("compose: the cluster's setup creates topics at RF 3 on all three brokers", () => {
  const e = env("setup-cluster");
  assert.equal(str(e.TOPIC_REPLICATION_FACTOR), "3");
  assert.equal(e.KAFKA_BROKERS, "kafka-1:9092,kafka-2:9092,kafka-3:9092");
  assert.deepEqual(services["setup-cluster"].command, ["deno", "task", "setup"]);
  for (const dep of ["postgres", "kafka-1", "kafka-2", "kafka-3", "connect-1", "connect-2"]) {
    assert.ok(services["setup-cluster"].depends_on?.[dep], `setup-cluster waits for ${dep}`);
  }
});

/** A `ports` entry as compose accepts it: short syntax (string or number) or long syntax. */
type PortSpec = string | number | { target: number; published?: string | number; host_ip?: string };

/**
 * The host address a `ports` entry publishes on; undefined means every interface (a bare
 * "5432:5432", "5432", a number, or a long entry without host_ip), which is what must not happen.
 */
function publishedHostIp(spec: PortSpec): string | undefined {
  if (typeof spec === "number") return undefined;
  if (typeof spec === "object") return spec.host_ip;
  const s = spec.replace(/\/(tcp|udp|sctp)$/, "");
  const v6 = /^\[([^\]]+)\]:/.exec(s);
  if (v6) return v6[1];
  const parts = s.split(":");
  return parts.length === 3 ? parts[0] : undefined;
}

/** The services `docker compose` runs in `profile` (those of no profile run in every one). */
const inProfile = (profile: string) =>
  Object.entries(services).filter(([, s]) => !s.profiles || s.profiles.includes(profile));

Deno.test("compose: the port check refuses every way of publishing on all interfaces", () => {
  for (const bad of ["5432:5432", "5432", 5432, "0.0.0.0:5432:5432", "5432:5432/tcp", "[::]:1:1"]) {
    assert.notEqual(publishedHostIp(bad), "127.0.0.1", JSON.stringify(bad));
  }
  assert.equal(publishedHostIp({ target: 5432, published: 54329 }), undefined);
  assert.equal(publishedHostIp({ target: 5432, host_ip: "127.0.0.1" }), "127.0.0.1");
  assert.equal(publishedHostIp("127.0.0.1:54329:5432"), "127.0.0.1");
  assert.equal(publishedHostIp("127.0.0.1:54329:5432/tcp"), "127.0.0.1");
});

for (const profile of ["single", "cluster"]) {
  Deno.test(`compose: profile ${profile} publishes on 127.0.0.1 only`, () => {
    const active = inProfile(profile);
    for (const [name, s] of active) {
      const raw = s as Service & { network_mode?: string; ports?: PortSpec[] };
      // Host networking would bind every port the container opens, on every interface.
      assert.notEqual(raw.network_mode, "host", `${name}: network_mode host`);
      for (const p of raw.ports ?? []) {
        assert.equal(publishedHostIp(p), "127.0.0.1", `${name}: ${JSON.stringify(p)}`);
        assert.ok(!JSON.stringify(p).includes("$"), `${name}: ${p} is interpolated`);
      }
    }
    // Postgres, every Kafka node and every Connect worker of the profile are published (the
    // host's tests reach them), so the loop above did see them.
    const names = active.map(([n]) => n);
    const infra = names.filter((n) => /^(postgres|kafka|connect)(-\d)?$/.test(n));
    assert.deepEqual(
      infra.sort(),
      profile === "single"
        ? ["connect", "kafka", "postgres"]
        : ["connect-1", "connect-2", "kafka-1", "kafka-2", "kafka-3", "postgres"],
    );
    for (const n of infra) assert.ok((services[n].ports ?? []).length > 0, `${n} is published`);
  });
}

Deno.test("compose: the API's ops port (metrics) is published on loopback, at its setting", () => {
  assert.equal(str(env("api").API_OPS_PORT), "9100");
  assert.deepEqual(services.api.ports, ["127.0.0.1:8080:8080", "127.0.0.1:9100:9100"]);
  // The merge kept the shared variables.
  // The cluster profile names its three brokers in KAFKA_BROKERS (the Deno permissions need each).
  assert.equal(env("api").KAFKA_BROKERS, "${KAFKA_BROKERS:-kafka:9092}");
});

Deno.test("compose: Postgres on the stack's port", () => {
  assert.deepEqual(services.postgres.ports, [`127.0.0.1:${base(LOCAL_PORTS.postgres)}:5432`]);
});

Deno.test("compose: the relay's password reaches Connect and setup only, through a provider", () => {
  const conf = properties("connect.properties");
  assert.equal(conf["config.providers"], "env");
  for (const name of ["connect", "connect-1", "connect-2", "setup", "setup-cluster"]) {
    assert.match(
      env(name).RELAY_DATABASE_PASSWORD,
      /^\$\{RELAY_DATABASE_PASSWORD:\?[^}]+\}$/,
      `${name} gets it from the host's environment, and compose stops without it`,
    );
  }
  for (const [name] of Object.entries(services)) {
    if (/^(connect(-\d)?|setup(-cluster)?)$/.test(name)) continue;
    assert.equal(env(name).RELAY_DATABASE_PASSWORD, undefined, `${name} has no use for it`);
  }
});

// ---- Security: Kafka logins, ACLs, database roles ----

/** The required variables (`${NAME:?message}`) a compose value reads, in order. */
function refs(value: unknown): string[] {
  return [...String(value ?? "").matchAll(/\$\{([A-Z][A-Z0-9_]*):\?[^}]*\}/g)].map((m) => m[1]);
}
/** Every required variable a service's environment reads. */
const envRefs = (name: string) => Object.values(env(name)).flatMap(refs);

/** The compose variable holding a Kafka principal's password: KAFKA_<PRINCIPAL>_PASSWORD. */
const kafkaPasswordVar = (principal: string) =>
  `KAFKA_${
    principal === BROKER_USER ? "BROKER" : principal.toUpperCase().replaceAll("-", "_")
  }_PASSWORD`;
/** The compose variable holding a database role's password: SHOP_<ROLE without shop_>_PASSWORD. */
const rolePasswordVar = (role: string) => `${role.toUpperCase()}_PASSWORD`;

const KAFKA_NODES = ["kafka", "kafka-1", "kafka-2", "kafka-3"];
const CONNECT_WORKERS = ["connect", "connect-1", "connect-2"];
const SETUPS = ["setup", "setup-cluster"];
const ACL_SERVICES = ["kafka-acls", "kafka-acls-cluster"];

/** The Kafka principal each service of the system logs in as (src/kafka_acls.ts). */
const PRINCIPAL_OF: Record<string, string> = {
  api: PRINCIPALS.ops,
  ...Object.fromEntries(WORKERS.map((w) => [w, workerPrincipal(SERVICES[w].group)])),
  ...Object.fromEntries([...SETUPS, ...ACL_SERVICES].map((s) => [s, PRINCIPALS.admin])),
};

/**
 * The broker properties the apache/kafka image makes of a node's environment (its
 * KafkaDockerWrapper: every KAFKA_* variable but a few *_OPTS-like ones; KAFKA_ removed, lower case,
 * `_` to `.`, then `...` to `-` and `..` to `_`), the rule stack/compose/kafka-start.sh repeats.
 */
function imageProperties(e: Record<string, unknown>): Record<string, string> {
  const excluded = new Set([
    "KAFKA_VERSION",
    "KAFKA_HEAP_OPTS",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL",
    "KAFKA_JMX_HOSTNAME",
  ]);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(e)) {
    if (!k.startsWith("KAFKA_") || excluded.has(k)) continue;
    const key = k.replaceAll("KAFKA_", "").toLowerCase().replaceAll("_", ".").replaceAll("...", "-")
      .replaceAll("..", "_");
    out[key] = String(v);
  }
  return out;
}

/** A secret, whether a stack/conf placeholder or a compose variable, as one marker. */
const secret = (v: string) =>
  v.replace(/@(BROKER|CONTROLLER|CONNECT)_PASSWORD@/g, "<secret>").replace(
    /\$\{[A-Z][A-Z0-9_]*:\?[^}]*\}/g,
    "<secret>",
  );
/** A stack/conf value with its user placeholders filled in as compose has them. */
const users = (v: string) =>
  v.replaceAll("@BROKER_USER@", BROKER_USER).replaceAll("@CONTROLLER_USER@", CONTROLLER_USER)
    .replaceAll("@CONNECT_USER@", PRINCIPALS.connect)
    .replaceAll("@SUPER_USERS@", SUPER_USERS.map((u) => `User:${u}`).join(";"));

/** `NAME:PROTOCOL,...` as a map. */
const protocolMap = (v: string) =>
  Object.fromEntries(v.split(",").map((p) => p.split(":") as [string, string]));
/** The listener names of `NAME://host:port,...`. */
const listenerNames = (v: string) => v.split(",").map((l) => l.split("://")[0]);

Deno.test("compose: nothing on Kafka is anonymous, in either profile", () => {
  for (const node of KAFKA_NODES) {
    const p = imageProperties(env(node));
    const map = protocolMap(p["listener.security.protocol.map"]);
    // Every listener the node opens or advertises (the published HOST one too) requires SASL.
    for (const l of [...listenerNames(p.listeners), ...listenerNames(p["advertised.listeners"])]) {
      assert.match(map[l] ?? "", /^SASL_/, `${node}: listener ${l} is ${map[l]}`);
    }
    for (const [l, protocol] of Object.entries(map)) {
      assert.match(protocol, /^SASL_/, `${node}: ${l}`);
      // Each SASL listener has the JAAS line of its mechanism (the broker's own login there).
      const mechanism = l === p["controller.listener.names"]
        ? p[`listener.name.${l.toLowerCase()}.sasl.enabled.mechanisms`]
        : p["sasl.enabled.mechanisms"];
      assert.ok(
        p[`listener.name.${l.toLowerCase()}.${mechanism.toLowerCase()}.sasl.jaas.config`],
        `${node}: ${l} has a JAAS line for ${mechanism}`,
      );
      // The image's configure demands a JAAS file (KAFKA_OPTS) when an advertised listener's name
      // holds "SASL_", and keystores when it holds "SSL://": the names avoid both.
      assert.doesNotMatch(l, /SASL_|SSL/, `${node}: listener name ${l}`);
    }
    assert.equal(
      p["authorizer.class.name"],
      "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
      node,
    );
    assert.equal(p["allow.everyone.if.no.acl.found"], "false", node);
    const supers = p["super.users"].split(";");
    assert.ok(!supers.includes("User:ANONYMOUS"), `${node}: ANONYMOUS is no super user`);
    assert.deepEqual(supers, SUPER_USERS.map((u) => `User:${u}`), node);
    // The published port is the HOST listener's, which requires SASL as checked above.
    for (const port of services[node].ports ?? []) {
      assert.match(port, /:29092$/, `${node}: publishes the HOST listener only`);
    }
    assert.equal(
      listenerNames(p.listeners).find((l) => p.listeners.includes(`${l}://:29092`)),
      "HOST",
    );
  }
});

Deno.test("compose: the Kafka nodes' security settings match stack/conf/server*.properties", () => {
  const keys = [
    "controller.listener.names",
    "inter.broker.listener.name",
    "sasl.enabled.mechanisms",
    "sasl.mechanism.inter.broker.protocol",
    "listener.name.controller.sasl.enabled.mechanisms",
    "sasl.mechanism.controller.protocol",
    "listener.name.client.scram-sha-512.sasl.jaas.config",
    "listener.name.controller.plain.sasl.jaas.config",
    "authorizer.class.name",
    "allow.everyone.if.no.acl.found",
    "super.users",
  ];
  const files: [string, string[]][] = [
    ["server.properties", ["kafka"]],
    ["server-cluster.properties", ["kafka-1", "kafka-2", "kafka-3"]],
  ];
  for (const [file, nodes] of files) {
    const conf = properties(file);
    for (const node of nodes) {
      const p = imageProperties(env(node));
      for (const key of keys) {
        assert.ok(conf[key], `${file} has ${key}`);
        assert.equal(secret(p[key] ?? ""), secret(users(conf[key])), `${node}: ${key}`);
      }
      // The published HOST listener logs in like CLIENT; the other listeners are the file's.
      assert.equal(
        p["listener.name.host.scram-sha-512.sasl.jaas.config"],
        p["listener.name.client.scram-sha-512.sasl.jaas.config"],
        `${node}: HOST's JAAS line`,
      );
      const ours = protocolMap(p["listener.security.protocol.map"]);
      for (
        const [l, protocol] of Object.entries(protocolMap(conf["listener.security.protocol.map"]))
      ) {
        assert.equal(ours[l], protocol, `${node}: listener ${l}`);
      }
      // The brokers' and the controllers' passwords are theirs, from variables of their own.
      assert.deepEqual(refs(p["listener.name.client.scram-sha-512.sasl.jaas.config"]), [
        kafkaPasswordVar(BROKER_USER),
      ]);
      assert.deepEqual(refs(p["listener.name.controller.plain.sasl.jaas.config"]), [
        "KAFKA_CONTROLLER_PASSWORD",
        "KAFKA_CONTROLLER_PASSWORD",
      ]);
      // The storage is in the volume (without log.dirs the broker writes to /tmp/kafka-logs).
      assert.equal(p["log.dirs"], "/var/lib/kafka/data", node);
      assert.ok(
        (services[node].volumes ?? []).some((v) => v.endsWith(":/var/lib/kafka/data")),
        `${node}: a volume at its log.dirs`,
      );
    }
  }
});

Deno.test("compose: each Kafka node creates every principal's SCRAM user when it formats", () => {
  for (const node of KAFKA_NODES) {
    const e = env(node);
    assert.deepEqual(services[node].entrypoint, ["bash", "/opt/shop/kafka-start.sh"], node);
    assert.ok(
      services[node].volumes?.includes(
        "./stack/compose/kafka-start.sh:/opt/shop/kafka-start.sh:ro",
      ),
      node,
    );
    assert.deepEqual(e.SHOP_SCRAM_USERS.split(" "), scramUsers(), `${node}: src/kafka_acls.ts`);
    for (const u of scramUsers()) {
      const v = `SHOP_SCRAM_PASSWORD_${u.toUpperCase().replaceAll("-", "_")}`;
      // The very variable the principal's process logs in with (checked below).
      assert.deepEqual(refs(e[v]), [kafkaPasswordVar(u)], `${node}: ${v}`);
    }
    // No KAFKA_* name: the image would write it into server.properties.
    assert.ok(!Object.keys(imageProperties(e)).some((k) => k.includes("password")), node);
    // The nodes get Kafka's secrets only, no database's.
    for (const r of envRefs(node)) assert.match(r, /^KAFKA_\w+_PASSWORD$/, `${node}: ${r}`);
    // The health check logs in (with the client file the start script writes).
    const check = (services[node] as { healthcheck?: { test: string[] } }).healthcheck!.test.join(
      " ",
    );
    assert.match(check, /--command-config \/tmp\/shop-kafka-client\.properties/, node);
  }
  const script = Deno.readTextFileSync(new URL("stack/compose/kafka-start.sh", root));
  assert.match(script, /shop-kafka-client\.properties/);
});

Deno.test("compose: every service of the system has its own Kafka principal's credentials only", () => {
  const built = Object.entries(services).filter(([, s]) => s.build).map(([n]) => n).sort();
  assert.deepEqual(built, Object.keys(PRINCIPAL_OF).sort(), "every app service has a principal");
  for (const [name, principal] of Object.entries(PRINCIPAL_OF)) {
    const e = env(name);
    assert.equal(e.KAFKA_USERNAME, principal, name);
    assert.deepEqual(refs(e.KAFKA_PASSWORD), [kafkaPasswordVar(principal)], name);
    // No other principal's password anywhere in its environment.
    const kafkaRefs = envRefs(name).filter((r) => /^KAFKA_\w+_PASSWORD$/.test(r));
    assert.deepEqual([...new Set(kafkaRefs)], [kafkaPasswordVar(principal)], name);
  }
  // The brokers' and controllers' identities are no process's.
  for (const name of Object.keys(PRINCIPAL_OF)) {
    for (const r of envRefs(name)) {
      assert.ok(!["KAFKA_BROKER_PASSWORD", "KAFKA_CONTROLLER_PASSWORD"].includes(r), name);
    }
  }
});

Deno.test("compose: Connect logs in as connect, top level, producer.* and consumer.*", () => {
  const conf = properties("connect.properties");
  for (const worker of CONNECT_WORKERS) {
    const e = env(worker);
    for (const prefix of ["", "producer.", "consumer."]) {
      for (const key of ["security.protocol", "sasl.mechanism", "sasl.jaas.config"]) {
        const v = `CONNECT_${(prefix + key).toUpperCase().replaceAll(".", "_")}`;
        assert.ok(conf[prefix + key], `connect.properties has ${prefix + key}`);
        assert.equal(secret(str(e[v])), secret(users(conf[prefix + key])), `${worker}: ${v}`);
      }
      assert.match(
        e[`CONNECT_${prefix.toUpperCase().replaceAll(".", "_")}SASL_JAAS_CONFIG`],
        /username="connect"/,
      );
    }
    const kafkaRefs = envRefs(worker).filter((r) => r.startsWith("KAFKA_"));
    assert.deepEqual([...new Set(kafkaRefs)], [kafkaPasswordVar(PRINCIPALS.connect)], worker);
    assert.equal(e.KAFKA_USERNAME, undefined, worker);
  }
});

Deno.test("compose: the ACL service applies the table as admin before Connect starts", () => {
  const pairs: [string, string[], string[]][] = [
    ["kafka-acls", ["connect"], ["kafka"]],
    ["kafka-acls-cluster", ["connect-1", "connect-2"], ["kafka-1", "kafka-2", "kafka-3"]],
  ];
  for (const [acls, workers, nodes] of pairs) {
    assert.deepEqual(services[acls].command, ["deno", "task", "acls"]);
    assert.equal((services[acls] as { restart?: string }).restart, "no");
    for (const w of workers) {
      assert.deepEqual(services[w].depends_on?.[acls], {
        condition: "service_completed_successfully",
      }, `${w} starts after ${acls}`);
      assert.deepEqual(services[w].profiles, services[acls].profiles, w);
    }
    for (const n of nodes) {
      assert.deepEqual(services[acls].depends_on?.[n], { condition: "service_healthy" }, acls);
    }
    assert.equal(env(acls).KAFKA_BROKERS, nodes.map((n) => `${n}:9092`).join(","));
    // No database, no other secret than admin's.
    assert.deepEqual(envRefs(acls), [kafkaPasswordVar(PRINCIPALS.admin)]);
  }
  // Setup applies the table too (idempotent), after Connect.
  assert.ok(STEPS.some((s) => s.fn === "applyAcls"));
});

Deno.test("compose: the acls task applies the ACL table and fails with a non-zero exit", async () => {
  const stub = {
    module: "src/system_topics.ts",
    body: `export async function applyAcls() {
      record("start applyAcls");
      await turn();
      if (Deno.env.get("ACLS_FAIL")) throw new Error("injected failure");
      record("end applyAcls");
    }
    export async function createSystemTopics() { record("createSystemTopics"); }`,
  };
  const ok = await runWithStubs(await taskFile("acls"), [stub]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(ok.records, ["start applyAcls", "end applyAcls"]);
  const failed = await runWithStubs(await taskFile("acls"), [stub], { ACLS_FAIL: "1" });
  assert.notEqual(failed.code, 0);
  assert.deepEqual(failed.records, ["start applyAcls"]);
});

Deno.test("compose: only setup has the database owner's credentials", () => {
  // The postgres image's superuser password is required, not a default.
  assert.deepEqual(refs(env("postgres").POSTGRES_PASSWORD), ["POSTGRES_PASSWORD"]);
  assert.equal(env("postgres").POSTGRES_USER, "shop");
  for (const [name] of Object.entries(services)) {
    const url = env(name).DATABASE_URL;
    const owner = SETUPS.includes(name);
    if (url !== undefined) {
      const m = /^postgres:\/\/(?:([^@/]*)@)?postgres:5432\/shop$/.exec(url);
      assert.ok(m, `${name}: ${url}`);
      if (owner) {
        assert.match(m[1] ?? "", /^shop:\$\{POSTGRES_PASSWORD:\?[^}]+\}$/, `${name}: the owner`);
      } else {
        assert.equal(m[1], undefined, `${name}: DATABASE_URL names no user`);
      }
    }
    if (name !== "postgres") {
      assert.equal(envRefs(name).includes("POSTGRES_PASSWORD"), owner, name);
    }
  }
});

Deno.test("compose: each service logs in with its own role's password, which setup sets", () => {
  const roleOf: Record<string, string> = Object.fromEntries(
    WORKERS.map((w) => [w, SERVICES[w].role]),
  );
  const used: string[] = [];
  for (const [name, role] of Object.entries(roleOf)) {
    assert.deepEqual(refs(env(name).DATABASE_PASSWORD), [rolePasswordVar(role)], name);
    used.push(rolePasswordVar(role));
  }
  assert.deepEqual(refs(env("api").DATABASE_PASSWORD), [rolePasswordVar(API_ROLE)]);
  assert.deepEqual(refs(env("api").OPS_DATABASE_PASSWORD), [rolePasswordVar(OPS_ROLE)]);
  used.push(rolePasswordVar(API_ROLE), rolePasswordVar(OPS_ROLE));
  assert.equal(new Set(used).size, used.length, "one variable per role");
  // No service reads another's (nor the relay's, nor the owner's: checked above and below).
  for (const name of [...WORKERS, "api"]) {
    const own = name === "api"
      ? [rolePasswordVar(API_ROLE), rolePasswordVar(OPS_ROLE)]
      : [rolePasswordVar(roleOf[name])];
    const dbRefs = envRefs(name).filter((r) => !r.startsWith("KAFKA_") && r !== "AUTH_JWT_SECRET");
    assert.deepEqual(dbRefs, own, name);
  }
  // Setup sets each role's password from the variable its service logs in with, and the list
  // parses as setup's configuration parses it.
  for (const name of SETUPS) {
    const list = env(name).SERVICE_DATABASE_PASSWORDS;
    assert.equal(env(name).SERVICE_DATABASE_PASSWORD, undefined, name);
    const parsed = parseConfig({
      SERVICE_DATABASE_PASSWORDS: list.replace(/\$\{([A-Z0-9_]+):\?[^}]*\}/g, "value-of-$1"),
    }).serviceDatabasePasswords;
    assert.deepEqual(Object.keys(parsed).sort(), [...SERVICE_ROLES].sort(), name);
    for (const [role, value] of Object.entries(parsed)) {
      assert.equal(value, `value-of-${rolePasswordVar(role)}`, `${name}: ${role}`);
    }
  }
  // Connect gets none of them: it logs in as the relay's role only.
  for (const name of CONNECT_WORKERS) {
    assert.deepEqual(envRefs(name).filter((r) => !r.startsWith("KAFKA_")), [
      "RELAY_DATABASE_PASSWORD",
    ], name);
  }
});

Deno.test("compose: docs/local-stack.md makes every secret compose requires", () => {
  const text = Deno.readTextFileSync(new URL("compose.yaml", root));
  const required = new Set(refs(text));
  const doc = Deno.readTextFileSync(new URL("docs/local-stack.md", root));
  const section = doc.slice(doc.indexOf("## Running with compose"));
  const script = /```sh\n([\s\S]*?)```/.exec(section)![1];
  const made = new Set(/for v in ([\s\S]*?); do/.exec(script)![1].split(/[\s\\]+/).filter(Boolean));
  assert.deepEqual([...made].sort(), [...required].sort());
});
