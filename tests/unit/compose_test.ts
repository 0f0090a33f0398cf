/**
 * compose.yaml cannot run here (no Docker engine), so this test parses it and checks that it
 * describes the system and that every file and task it references exists.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";

const root = new URL("../../", import.meta.url);
const compose = parse(await Deno.readTextFile(new URL("compose.yaml", root)), { merge: true });
const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
const WORKERS = ["coupon-issuer", "inventory", "coupon-redeemer", "payment", "order-saga"];

type Service = {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
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
  for (const s of ["postgres", "kafka", "connect", "setup", "api", ...WORKERS]) {
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

Deno.test("compose: workers run the architecture's groups, after the one-shot setup", () => {
  for (const w of WORKERS) {
    assert.deepEqual(services[w].command, ["deno", "task", "worker", w]);
    assert.equal(services[w].depends_on?.setup?.condition, "service_completed_successfully");
  }
  // The setup service registers the same connector file the local stack uses.
  assert.deepEqual(services.setup.command, ["deno", "task", "setup"]);
  assert.match(denoJson.tasks.setup, /src\/setup\.ts/);
  assert.match(Deno.readTextFileSync(new URL("src/setup.ts", root)), /registerConnector/);
  assert.ok(exists("relay/connector.json"));
  assert.equal(services.api.environment!.DATABASE_URL, "postgres://shop:shop@postgres:5432/shop");
});
