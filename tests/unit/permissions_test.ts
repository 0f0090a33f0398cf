/**
 * The API's and workers' Deno permissions: computed from the configuration, and what they refuse.
 * A probe script runs under exactly the flags a worker gets and tries what a compromised handler
 * would: write a file, run a program, read a secret it has no use for, reach a host the
 * configuration does not name. (The end-to-end and fault suites start the real processes with the
 * same flags, which shows they are enough.)
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../src/platform/config.ts";
import {
  databasePasswordFiles,
  envAllowList,
  netAllowList,
  permissionFlags,
} from "../../src/platform/permissions.ts";
import {
  LOCAL_PORTS,
  localDatabasePasswordFile,
  localKafkaUsersFile,
} from "../../src/platform/local_stack.ts";

/** The vendored kafkajs: its `require` reads its own files, the one read every process needs. */
const KAFKAJS = new URL("../../vendor/kafkajs", import.meta.url).pathname;

/** A deployment's configuration: its Kafka login is given, so no password file is read. */
const cfg = parseConfig({
  DATABASE_URL: "postgres://shop@db.internal:6432/shop",
  KAFKA_BROKERS: "k1:9092,k2:9093",
  KAFKA_USERNAME: "worker-payment",
  KAFKA_PASSWORD: "secret",
  KAFKA_CONNECT_URL: "http://connect:8083",
  WORKER_OPS_URLS: "payment=http://payment:9104",
});

Deno.test("permissions: the network is the configuration's addresses and the listeners", () => {
  assert.deepEqual(netAllowList("worker", cfg, [9104]), [
    "0.0.0.0:9104",
    "db.internal:6432",
    "k1:9092",
    "k2:9093",
  ]);
  // The API also asks Connect (readiness, console) and scrapes the workers' ops ports.
  assert.deepEqual(netAllowList("api", cfg, [8080]), [
    "0.0.0.0:8080",
    "connect:8083",
    "db.internal:6432",
    "k1:9092",
    "k2:9093",
    "payment:9104",
  ]);
  assert.ok(netAllowList("worker", cfg, [0]).includes("0.0.0.0"), "port 0: any port");
});

Deno.test("permissions: no run, write, ffi or sys; read only the vendored kafkajs; env by name", () => {
  const flags = permissionFlags("worker", cfg, [9104], ["shop_payment"]);
  for (const f of flags) {
    assert.doesNotMatch(f, /^(-A|--allow-all|--allow-(run|write|ffi|sys|import))/, f);
  }
  assert.deepEqual(flags.filter((f) => f.startsWith("--allow-read")), [`--allow-read=${KAFKAJS}`]);
  const env = envAllowList();
  for (
    const name of [
      "DATABASE_URL",
      "DATABASE_PASSWORD",
      "KAFKA_BROKERS",
      "KAFKA_USERNAME",
      "KAFKA_PASSWORD",
      "STACK_PORT_OFFSET",
      "STACK_DIR",
    ]
  ) {
    assert.ok(env.includes(name), name);
  }
  for (const name of ["HOME", "PATH", "AWS_SECRET_ACCESS_KEY", "SERVICE_DATABASE_PASSWORD_X"]) {
    assert.ok(!env.includes(name), name);
  }
});

Deno.test("permissions: without logins, also read the local stack's Kafka passwords and the process's own database password, nothing else", () => {
  const local = parseConfig({
    DATABASE_URL: `postgres://shop@127.0.0.1:${LOCAL_PORTS.postgres}/shop`,
  });
  const reads = permissionFlags("worker", local, [9104], ["shop_payment"]).filter((f) =>
    f.startsWith("--allow-read")
  );
  assert.deepEqual(reads, [
    `--allow-read=${KAFKAJS},${localKafkaUsersFile()},${localDatabasePasswordFile("shop_payment")}`,
  ]);
  // Never the owner's: only the roles named. A configured password, or a database that is not
  // the local stack's, reads none.
  assert.ok(!reads[0].split(/[=,]/).includes(localDatabasePasswordFile("shop")));
  for (
    const cfg of [
      parseConfig({
        DATABASE_URL: `postgres://shop@127.0.0.1:${LOCAL_PORTS.postgres}/shop`,
        DATABASE_PASSWORD: "set",
      }),
      parseConfig({ DATABASE_URL: "postgres://shop@db.internal:5432/shop" }),
    ]
  ) {
    assert.deepEqual(databasePasswordFiles(cfg, ["shop_payment"]), []);
  }
});

const PROBE = `
const tried = {};
const attempt = async (name, fn) => {
  try { await fn(); tried[name] = "allowed"; }
  catch (e) { tried[name] = e instanceof Deno.errors.NotCapable || e.name === "NotCapable" ? "refused" : "error: " + e.name; }
};
await attempt("write", () => Deno.writeTextFile(Deno.args[0], "x"));
await attempt("read elsewhere", () => Deno.readTextFile("/etc/hostname"));
await attempt("run", () => new Deno.Command("true").output());
await attempt("env HOME", () => Deno.env.get("HOME"));
await attempt("read /etc/passwd", () => Deno.readTextFile("/etc/passwd"));
await attempt("env DATABASE_URL", () => Deno.env.get("DATABASE_URL"));
await attempt("net elsewhere", async () => (await Deno.connect({ hostname: "127.0.0.1", port: 1 })).close());
await attempt("listen on the ops port", async () => Deno.listen({ hostname: "0.0.0.0", port: Number(Deno.args[1]) }).close());
console.log(JSON.stringify(tried));
`;

Deno.test("permissions: a process with a worker's flags cannot write, run, read HOME or go elsewhere", async () => {
  const dir = await Deno.makeTempDir({ prefix: "permissions-" });
  try {
    const probe = `${dir}/probe.js`;
    await Deno.writeTextFile(probe, PROBE);
    const free = Deno.listen({ hostname: "0.0.0.0", port: 0 });
    const port = (free.addr as Deno.NetAddr).port;
    free.close();
    const local = parseConfig({
      DATABASE_URL: "postgres://shop@127.0.0.1:6432/shop",
      KAFKA_BROKERS: "127.0.0.1:9092",
    });
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        ...permissionFlags("worker", local, [port], ["shop_payment"]),
        probe,
        `${dir}/written`,
        String(port),
      ],
      env: { DATABASE_URL: "postgres://x@127.0.0.1:6432/shop" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    assert.ok(out.success, text.decode(out.stderr));
    assert.deepEqual(JSON.parse(text.decode(out.stdout)), {
      write: "refused",
      "read elsewhere": "refused",
      run: "refused",
      "env HOME": "refused",
      "read /etc/passwd": "refused",
      "env DATABASE_URL": "allowed",
      "net elsewhere": "refused",
      "listen on the ops port": "allowed",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("permissions: the flags are computed with --allow-env only (`deno task api` and `worker` run it so)", async () => {
  // The entry loads the worker registry: a service module that pulls in the Kafka client (which
  // reads its vendored files) would make every `deno task worker` fail before it starts.
  const entry = new URL("../../src/main/permissions.ts", import.meta.url).pathname;
  for (const args of [["api"], ["worker"], ["worker", "inventory"]]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-env", entry, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `permissions.ts ${args.join(" ")}: ${stderr}`);
    assert.match(new TextDecoder().decode(out.stdout), /--allow-net=/);
  }
});
