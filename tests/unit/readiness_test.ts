/**
 * /health/ready is unauthenticated: its body says each check's state and never a failure's own
 * message (which names hosts, users, SQL); that message goes to the structured log instead.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { type Check, readyHandler } from "../../src/platform/ops_server.ts";
import { logger } from "../../src/platform/log.ts";
import { parseConfig } from "../../src/platform/config.ts";
import { connect } from "../../src/platform/db.ts";
import { apiReadiness } from "../../src/readiness.ts";

const LEAK = 'password authentication failed for user "shop" at db.internal:5432';

/** Serves `checks` and returns the body, the status and the log lines written meanwhile. */
async function probe(checks: Record<string, Check>, timeoutMs = 100) {
  const app = new Hono();
  app.get("/health/ready", readyHandler(checks, timeoutMs, logger("readiness-test")));
  const lines: string[] = [];
  const original = console.log;
  console.log = (line: string) => lines.push(line);
  try {
    const res = await app.request("/health/ready");
    const text = await res.text();
    return {
      status: res.status,
      retryAfter: res.headers.get("retry-after"),
      text,
      body: JSON.parse(text),
      logs: lines.map((l) => JSON.parse(l)),
    };
  } finally {
    console.log = original;
  }
}

Deno.test("readiness: all ok is 200 with each check's state", async () => {
  const r = await probe({
    database: () => Promise.resolve({ ok: true }),
    relay: () => Promise.resolve({ ok: true, detail: "connector RUNNING, tasks RUNNING" }),
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, {
    status: "ok",
    checks: {
      database: { status: "ok" },
      relay: { status: "ok", detail: "connector RUNNING, tasks RUNNING" },
    },
  });
  assert.deepEqual(r.logs, []);
});

Deno.test("readiness: a failing check is `down` in the body, its message only in the log", async () => {
  const r = await probe({
    database: () => Promise.reject(new Error(LEAK)),
    kafka: () => Promise.resolve({ ok: true }),
  });
  assert.equal(r.status, 503);
  assert.equal(r.retryAfter, "5");
  assert.deepEqual(r.body, {
    status: "unavailable",
    checks: { database: { status: "down" }, kafka: { status: "ok" } },
  });
  assert.ok(!r.text.includes("db.internal") && !r.text.includes("password"), r.text);
  assert.equal(r.logs.length, 1);
  assert.equal(r.logs[0].level, "warn");
  assert.equal(r.logs[0].check, "database");
  assert.equal(r.logs[0].error.message, LEAK);
});

Deno.test("readiness: a hung check is `timeout`, not a hung probe", async () => {
  let release = () => {};
  const hung = new Promise<{ ok: boolean }>((resolve) => release = () => resolve({ ok: true }));
  const started = performance.now();
  const r = await probe({ database: () => hung }, 50);
  release();
  assert.ok(performance.now() - started < 1000);
  assert.equal(r.status, 503);
  assert.deepEqual(r.body.checks, { database: { status: "timeout" } });
  assert.equal(r.logs[0].check, "database");
  assert.equal(r.logs[0].timeoutMs, 50);
});

Deno.test("readiness: a check that rejects after its timeout leaves no unhandled rejection", async () => {
  let rejectLate!: (err: Error) => void;
  const late = new Promise<{ ok: boolean }>((_, reject) => rejectLate = reject);
  const r = await probe({ relay: () => late }, 5);
  assert.deepEqual(r.body.checks, { relay: { status: "timeout" } });
  // The rejection comes after the probe answered; one turn later an unhandled one would have
  // been reported and failed the test.
  rejectLate(new Error(LEAK));
  await new Promise((r) => setTimeout(r, 0));
});

Deno.test("readiness: a check that answers not ok is `down` with its own state word", async () => {
  const r = await probe({
    consumer: () => Promise.resolve({ ok: false, detail: "crashed" }),
  });
  assert.equal(r.status, 503);
  assert.deepEqual(r.body.checks, { consumer: { status: "down", detail: "crashed" } });
  assert.equal(r.logs[0].detail, "crashed");
});

Deno.test("readiness: reported dependencies are in the body and never make it unready", async () => {
  const app = new Hono();
  app.get(
    "/health/ready",
    readyHandler(
      { database: () => Promise.resolve({ ok: true }) },
      100,
      logger("readiness-test"),
      () => ({ kafka: { status: "down", at: "2026-12-06T00:00:00.000Z" } }),
    ),
  );
  const res = await app.request("/health/ready");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    status: "ok",
    checks: { database: { status: "ok" } },
    reported: { kafka: { status: "down", at: "2026-12-06T00:00:00.000Z" } },
  });
});

Deno.test(
  "readiness: the API's checks with every dependency unreachable say states only",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    // Closed ports: each check fails with its client's own message (address, port, errno).
    const cfg = parseConfig({
      DATABASE_URL: "postgres://shop_secret_user@127.0.0.1:1/shop",
      KAFKA_BROKERS: "127.0.0.1:1",
      KAFKA_CONNECT_URL: "http://127.0.0.1:1",
      // Given, so the test needs no local stack's users file (no broker answers anyway).
      KAFKA_USERNAME: "ops",
      KAFKA_PASSWORD: "unused-password",
    });
    const sql = connect(cfg.databaseUrl, { max: 1 });
    const lines: string[] = [];
    const original = console.log;
    console.log = (line: string) => lines.push(line);
    const readiness = apiReadiness(cfg, sql, { watchIntervalMs: 50, log: logger("api") });
    try {
      // Readiness is the database alone.
      assert.deepEqual(Object.keys(readiness.checks), ["database"]);
      const app = new Hono();
      app.get(
        "/health/ready",
        readyHandler(readiness.checks, 1500, logger("readiness-test"), readiness.reported),
      );
      const reported = async () => {
        const res = await app.request("/health/ready");
        return { status: res.status, text: await res.text() };
      };
      let r = await reported();
      const deadline = Date.now() + 10_000;
      while (/"unknown"/.test(r.text)) {
        assert.ok(Date.now() < deadline, `still unknown: ${r.text}`);
        r = await reported();
      }
      const body = JSON.parse(r.text);
      assert.equal(r.status, 503);
      assert.ok(["down", "timeout"].includes(body.checks.database.status), r.text);
      for (const name of ["kafka", "relay"]) {
        assert.ok(["down", "timeout"].includes(body.reported[name].status), `${name}: ${r.text}`);
        assert.equal(body.reported[name].detail, undefined, name);
      }
      assert.doesNotMatch(r.text, /127\.0\.0\.1|ECONNREFUSED|shop_secret_user|:1\b/);
      // The operator still learns why, from the log.
      assert.match(lines.join("\n"), /127\.0\.0\.1|ECONNREFUSED|refused/i);
    } finally {
      console.log = original;
      await readiness.close();
      await sql.end({ timeout: 1 });
    }
  },
);
