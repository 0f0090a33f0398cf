/**
 * No route of the API is public by mistake: every route the app registers, and every operation
 * of its OpenAPI document, answers 401 without a token, except the few public routes named here.
 * The app runs in-process over a pool that points at a closed port and never connects: a route
 * that let a request through to its SQL would answer 503, not 401, so no stack is needed.
 */
import assert from "node:assert/strict";
import { createApp } from "../../src/app.ts";
import { connect } from "../../src/platform/db.ts";
import { logger, setLogLevel } from "../../src/platform/log.ts";

setLogLevel("error");

/** Public on purpose (method and Hono path): everything else needs a bearer token. */
const PUBLIC = new Set([
  "GET /health/live",
  "GET /health/ready",
  "GET /openapi.json",
  "GET /docs",
  "GET /docs/assets/:name",
  // The console's page and assets are public; its data (/ops/api/*) checks an admin token.
  "GET /ops",
  "GET /ops/orders/:id",
  "GET /ops/assets/:name",
]);
/** The root middleware (request context, timeout, body limit): it answers nothing itself. */
const ROOT = "/*";
const ID = "0190a0a0-0000-7000-8000-000000000000";

/** A concrete path for a Hono route path: parameters get a UUID, a wildcard a segment. */
const concrete = (path: string) => path.replace(/:[^/]+/g, ID).replace(/\*$/, "x");

async function withApp(fn: (app: ReturnType<typeof createApp>) => Promise<void>) {
  // Port 9 (discard) on loopback: nothing listens, so a query would fail at once.
  const sql = connect("postgres://nobody:nothing@127.0.0.1:9/none", { max: 1 });
  try {
    await fn(createApp({ sql, jwtSecret: "x".repeat(40), log: logger("route-auth-test") }));
  } finally {
    await sql.end({ timeout: 0 });
  }
}

Deno.test("routes: every registered route but the public ones answers 401 without a token", () =>
  withApp(async (app) => {
    const routes = [...new Set(app.routes.map((r) => `${r.method} ${r.path}`))];
    const tried: string[] = [];
    for (const route of routes) {
      const [method, path] = route.split(" ");
      if (PUBLIC.has(route) || path === ROOT) continue;
      // Middleware (and `all` routes) are registered as ALL: try a read and a write.
      for (const m of method === "ALL" ? ["GET", "POST"] : [method]) {
        const res = await app.request(concrete(path), { method: m });
        const body = await res.json();
        assert.equal(res.status, 401, `${m} ${path} without a token: ${JSON.stringify(body)}`);
        assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
        assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
        tried.push(`${m} ${path}`);
      }
    }
    // The walk saw every service's routes (a vacuous walk would prove nothing).
    for (const prefix of ["/products", "/coupons", "/coupon-requests", "/users", "/wallet"]) {
      assert.ok(tried.some((t) => t.includes(` ${prefix}`)), `${prefix}: ${tried}`);
    }
    assert.ok(
      tried.some((t) => t.includes(" /orders")) && tried.some((t) => t.includes("/ops/api")),
    );
  }));

Deno.test("routes: every documented operation declares bearer security and answers 401", () =>
  withApp(async (app) => {
    const doc = await (await app.request("/openapi.json")).json();
    let operations = 0;
    for (const [path, item] of Object.entries(doc.paths as Record<string, object>)) {
      for (const [method, op] of Object.entries(item as Record<string, Record<string, unknown>>)) {
        const name = `${method.toUpperCase()} ${path} (${op.operationId})`;
        assert.deepEqual(op.security, [{ bearer: [] }], `${name} declares bearer security`);
        assert.ok((op.responses as Record<string, unknown>)["401"], `${name} documents 401`);
        const res = await app.request(path.replace(/\{[^}]+\}/g, ID), {
          method: method.toUpperCase(),
        });
        assert.equal(res.status, 401, `${name} without a token`);
        await res.body?.cancel();
        operations++;
      }
    }
    assert.equal(operations, 13);
  }));

Deno.test("routes: public routes and unknown paths never meet a group's auth", () =>
  withApp(async (app) => {
    const expect: [string, string, number][] = [
      ["GET", "/health/live", 200],
      // Metrics are on the internal ops port (createOpsApp), not here.
      ["GET", "/metrics", 404],
      ["GET", "/openapi.json", 200],
      ["GET", "/docs", 200],
      ["GET", "/ops", 200],
      // Unknown paths are 404 with or without a token, beside and between the groups' prefixes.
      ["GET", "/nope", 404],
      ["POST", "/", 404],
      ["GET", "/couponsx", 404],
      ["GET", "/user", 404],
      ["DELETE", "/health/live", 404],
    ];
    for (const [method, path, status] of expect) {
      const res = await app.request(path, { method });
      assert.equal(res.status, status, `${method} ${path}`);
      await res.body?.cancel();
    }
  }));
