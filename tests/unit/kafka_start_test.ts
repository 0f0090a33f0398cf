/**
 * stack/compose/kafka-start.sh, the Kafka nodes' entrypoint in compose.yaml, run here with bash and
 * stand-ins for the image's pieces (no Docker engine): a kafka-storage.sh that records its
 * arguments and the properties file it is given, and an image start that records its environment.
 * The environment is compose's own for the single node, its variables filled in with test values.
 * What the real image and StorageTool do with it is not checked here (docs/decisions.md).
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { scramUsers } from "../../src/kafka_acls.ts";

const root = new URL("../../", import.meta.url);
const SCRIPT = new URL("stack/compose/kafka-start.sh", root).pathname;
const compose = parse(await Deno.readTextFile(new URL("compose.yaml", root)), { merge: true });

/** compose's environment of `service`, each `${VAR:?...}` replaced by `pw-<var in lower case>`. */
function composeEnv(service: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries<unknown>(compose.services[service].environment)) {
    out[k] = String(v).replace(
      /\$\{([A-Z0-9_]+):\?[^}]*\}/g,
      (_, name: string) => `pw-${name.toLowerCase().replaceAll("_", "-")}`,
    );
  }
  return out;
}

interface Run {
  code: number;
  stderr: string;
  /** kafka-storage.sh's arguments, if it ran. */
  storageArgs?: string[];
  /** The properties file kafka-storage.sh was given, as it was then. */
  formatProps?: string;
  /** The environment the image's start got, if it ran. */
  startEnv?: Record<string, string>;
  client?: string;
  dir: string;
}

/** Runs the script in `dir` (made if absent) with compose's environment plus `extra`. */
async function run(
  dir: string | undefined,
  extra: Record<string, string | undefined> = {},
): Promise<Run> {
  dir ??= await Deno.makeTempDir({ prefix: "kafka-start-" });
  const home = `${dir}/kafka`;
  await Deno.mkdir(`${home}/bin`, { recursive: true });
  // The storage tool: records, then makes what a format makes (meta.properties in log.dirs).
  await Deno.writeTextFile(
    `${home}/bin/kafka-storage.sh`,
    `#!/usr/bin/env bash
set -eu
printf '%s\\0' "$@" > "${dir}/storage-args"
while [ $# -gt 0 ]; do
  if [ "$1" = -c ]; then cp "$2" "${dir}/format.properties"; fi
  shift
done
touch "$KAFKA_LOG_DIRS/meta.properties"
`,
    { mode: 0o755 },
  );
  await Deno.writeTextFile(`${dir}/start`, `#!/usr/bin/env bash\nenv -0 > "${dir}/start-env"\n`, {
    mode: 0o755,
  });
  await Deno.mkdir(`${dir}/tmp`, { recursive: true });
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    ...composeEnv("kafka"),
    KAFKA_LOG_DIRS: `${dir}/data`,
    SHOP_KAFKA_HOME: home,
    SHOP_IMAGE_START: `${dir}/start`,
    SHOP_TMP: `${dir}/tmp`,
  };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  for (const f of ["storage-args", "format.properties", "start-env"]) {
    await Deno.remove(`${dir}/${f}`).catch(() => {});
  }
  const out = await new Deno.Command("bash", { args: [SCRIPT], env, clearEnv: true }).output();
  const read = (f: string) => Deno.readTextFile(`${dir}/${f}`).catch(() => undefined);
  const storage = await read("storage-args");
  const start = await read("start-env");
  return {
    code: out.code,
    stderr: new TextDecoder().decode(out.stderr),
    storageArgs: storage?.split("\0").slice(0, -1),
    formatProps: await read("format.properties"),
    startEnv: start === undefined ? undefined : Object.fromEntries(
      start.split("\0").filter(Boolean).map((
        l,
      ) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    ),
    client: await read("tmp/shop-kafka-client.properties"),
    dir,
  };
}

const passwordOf = (u: string) => `pw-kafka-${u === "kafka" ? "broker" : u}-password`;

Deno.test("kafka-start: the first start formats with every SCRAM user, then runs the image's start", async () => {
  const r = await run(undefined);
  try {
    assert.equal(r.code, 0, r.stderr);
    const args = r.storageArgs!;
    assert.deepEqual(args.slice(0, 3), ["format", "--cluster-id", "MC9HILl1WlsC8KlExoZ23w"]);
    assert.equal(args[3], "-c");
    assert.deepEqual(
      args.slice(5),
      scramUsers().flatMap((
        u,
      ) => ["--add-scram", `SCRAM-SHA-512=[name=${u},password=${passwordOf(u)}]`]),
    );
    // The properties are the image's rendering of the KAFKA_* variables, nothing else.
    const props = Object.fromEntries(
      r.formatProps!.trim().split("\n").map((
        l,
      ) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    assert.equal(props["process.roles"], "broker,controller");
    assert.equal(props["log.dirs"], `${r.dir}/data`);
    assert.equal(
      props["listener.name.client.scram-sha-512.sasl.jaas.config"],
      `org.apache.kafka.common.security.scram.ScramLoginModule required username="kafka" password="pw-kafka-broker-password";`,
    );
    assert.equal(props["listener.name.controller.sasl.enabled.mechanisms"], "PLAIN");
    assert.equal(props["super.users"], "User:kafka;User:controller;User:admin");
    assert.ok(!Object.keys(props).some((k) => k.startsWith("shop") || k === "cluster.id"));
    // Removed after the format; the users recorded beside the storage.
    assert.equal(
      await Deno.stat(`${r.dir}/tmp/shop-kafka-format.properties`).catch(() => null),
      null,
    );
    assert.deepEqual(
      (await Deno.readTextFile(`${r.dir}/data/shop-scram-users`)).trim().split("\n"),
      scramUsers(),
    );
    // The health check's login: the broker's own.
    assert.match(r.client!, /^security\.protocol=SASL_PLAINTEXT$/m);
    assert.match(r.client!, /^sasl\.mechanism=SCRAM-SHA-512$/m);
    assert.match(r.client!, /username="kafka" password="pw-kafka-broker-password";/);
    assert.equal((await Deno.stat(`${r.dir}/tmp/shop-kafka-client.properties`)).mode! & 0o077, 0);
    // The broker gets its KAFKA_* settings and none of the other principals' passwords.
    const e = r.startEnv!;
    assert.equal(e.KAFKA_SUPER_USERS, "User:kafka;User:controller;User:admin");
    assert.equal(e.CLUSTER_ID, "MC9HILl1WlsC8KlExoZ23w");
    assert.deepEqual(Object.keys(e).filter((k) => k.startsWith("SHOP_")), []);
    for (const u of scramUsers().filter((u) => u !== "kafka")) {
      assert.ok(!Object.values(e).some((v) => v.includes(passwordOf(u))), `${u}'s password`);
    }
  } finally {
    await Deno.remove(r.dir, { recursive: true });
  }
});

Deno.test("kafka-start: a later start keeps the storage and checks its users", async () => {
  const first = await run(undefined);
  try {
    assert.equal(first.code, 0, first.stderr);
    const again = await run(first.dir);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.storageArgs, undefined, "no second format");
    assert.ok(again.startEnv);
    // A storage formatted without one of today's users is refused, with what to do.
    const marker = `${first.dir}/data/shop-scram-users`;
    await Deno.writeTextFile(marker, scramUsers().filter((u) => u !== "ops").join("\n") + "\n");
    const stale = await run(first.dir);
    assert.notEqual(stale.code, 0);
    assert.equal(stale.startEnv, undefined);
    assert.match(stale.stderr, /without the SCRAM user ops.*docker compose down -v/s);
  } finally {
    await Deno.remove(first.dir, { recursive: true });
  }
});

Deno.test("kafka-start: a missing or unquotable password stops the node before anything", async () => {
  const cases: [Record<string, string | undefined>, RegExp][] = [
    [
      { SHOP_SCRAM_PASSWORD_WORKER_PAYMENT: undefined },
      /SHOP_SCRAM_PASSWORD_WORKER_PAYMENT is unset/,
    ],
    [{ SHOP_SCRAM_PASSWORD_OPS: "" }, /SHOP_SCRAM_PASSWORD_OPS is unset/],
    [{ SHOP_SCRAM_PASSWORD_TEST: 'a"b' }, /SHOP_SCRAM_PASSWORD_TEST: use letters/],
    [{ SHOP_SCRAM_PASSWORD_TEST: "a,b]" }, /SHOP_SCRAM_PASSWORD_TEST: use letters/],
    [{ SHOP_SCRAM_USERS: "admin connect" }, /must include kafka/],
    [{ CLUSTER_ID: undefined }, /CLUSTER_ID is required/],
  ];
  for (const [extra, message] of cases) {
    const r = await run(undefined, extra);
    try {
      assert.notEqual(r.code, 0, JSON.stringify(extra));
      assert.match(r.stderr, message);
      assert.equal(r.storageArgs, undefined);
      assert.equal(r.startEnv, undefined);
      assert.doesNotMatch(r.stderr, /pw-kafka/, "no password in the message");
    } finally {
      await Deno.remove(r.dir, { recursive: true });
    }
  }
});
