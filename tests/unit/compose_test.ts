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
import { runWithStubs, taskFile } from "../helpers/stub_modules.ts";

/** The local stack's default port (compose publishes those, whatever STACK_PORT_OFFSET says). */
const base = (port: number) => port - PORT_OFFSET;

const root = new URL("../../", import.meta.url);
const compose = parse(await Deno.readTextFile(new URL("compose.yaml", root)), { merge: true });
const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
const WORKERS = ["coupon-issuer", "inventory", "coupon-redeemer", "payment", "order-saga"];

type Service = {
  profiles?: string[];
  ports?: string[];
  networks?: Record<string, { aliases?: string[] }>;
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string[];
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
  assert.equal(services.api.environment!.DATABASE_URL, "postgres://shop:shop@postgres:5432/shop");
});

/**
 * The steps compose's setup service relies on, each replaced by a recorder (the real ones need and
 * change a running stack). The task's own file runs as the task runs it, so a step that is
 * commented out, called but not awaited, or called out of order shows in the trace.
 */
const STEPS = [
  { module: "src/platform/migrations.ts", fn: "migrate", result: "{ applied: [] }" },
  { module: "src/system_topics.ts", fn: "createSystemTopics", result: "undefined" },
  { module: "relay/register.ts", fn: "registerConnector", result: "undefined" },
];

/** Runs the setup task with the steps recorded; `fail` names a step that throws. */
async function runSetup(fail?: string): Promise<{ code: number; trace: unknown[] }> {
  const stubs = STEPS.map((s) => ({
    module: s.module,
    body: `export async function ${s.fn}() {
      record("start ${s.fn}");
      await turn();
      if (Deno.env.get("SETUP_FAIL") === "${s.fn}") throw new Error("injected failure");
      record("end ${s.fn}");
      return ${s.result};
    }`,
  }));
  const run = await runWithStubs(await taskFile("setup"), stubs, fail ? { SETUP_FAIL: fail } : {});
  if (!fail && run.code !== 0) console.error(run.stderr);
  return { code: run.code, trace: run.records };
}

Deno.test("compose: the setup task migrates, then creates topics, then registers the relay", async () => {
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

/** `key=value` lines of a stack/conf file, placeholders left as they are. */
function properties(name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of Deno.readTextFileSync(new URL(`stack/conf/${name}`, root)).split("\n")) {
    const m = /^\s*([a-z][\w.]*)\s*=\s*(.*?)\s*$/.exec(line);
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
  assert.equal(env("api").KAFKA_BROKERS, "kafka:9092");
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

Deno.test("compose: every service logs in with the service roles' password, which setup sets", () => {
  const password =
    "${SERVICE_DATABASE_PASSWORD:?set SERVICE_DATABASE_PASSWORD to the service roles' password}";
  for (const name of ["api", ...WORKERS]) {
    assert.equal(str(env(name).DATABASE_PASSWORD), password, name);
  }
  for (const name of ["setup", "setup-cluster"]) {
    assert.equal(str(env(name).SERVICE_DATABASE_PASSWORD), password, name);
  }
  // Connect never gets it: it logs in as the relay's role only.
  for (const name of ["connect", "connect-1", "connect-2"]) {
    assert.equal(env(name).SERVICE_DATABASE_PASSWORD, undefined, name);
    assert.equal(env(name).DATABASE_PASSWORD, undefined, name);
  }
});
