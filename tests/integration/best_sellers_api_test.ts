/**
 * GET /products/best-sellers' contract at the edges, in-process over the real database: 400 for
 * malformed or out-of-range parameters, 422 for a window longer than the topics' retention, the
 * answer's shape otherwise, 401 without a token. (What it counts: tests/e2e/best_sellers_test.ts.)
 */
import assert from "node:assert/strict";
import { api, newUser } from "../helpers/api.ts";
import { real } from "../helpers/stack.ts";

const { call } = api({ topicRetentionHours: 168 });
const { token } = newUser();
const get = (query: string, auth = true) =>
  call("GET", `/products/best-sellers${query}`, auth ? { token } : {});

Deno.test("best sellers: 400 on malformed parameters, naming them", real, async () => {
  for (
    const [query, path] of [
      ["?hours=abc", "query.hours"],
      ["?hours=0", "query.hours"],
      ["?hours=1.5", "query.hours"],
      ["?hours=", "query.hours"],
      ["?limit=0", "query.limit"],
      ["?limit=101", "query.limit"],
      ["?limit=x", "query.limit"],
      ["?hours=72&sort=asc", "query"],
    ]
  ) {
    const r = await get(query);
    assert.equal(r.status, 400, `${query}: ${JSON.stringify(r.body)}`);
    assert.match(r.headers.get("content-type") ?? "", /^application\/problem\+json/);
    assert.ok(
      r.body.errors.some((e: { path: string }) => e.path.startsWith(path)),
      `${query}: ${JSON.stringify(r.body.errors)}`,
    );
  }
});

Deno.test("best sellers: 422 for a window longer than the topics' retention", real, async () => {
  for (const hours of [169, 100_000]) {
    const r = await get(`?hours=${hours}`);
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.match(r.headers.get("content-type") ?? "", /^application\/problem\+json/);
    assert.equal(r.body.maxHours, 168);
    assert.match(r.body.detail, /168 hours/);
  }
});

Deno.test("best sellers: the retention itself and the defaults answer 200", real, async () => {
  for (const query of ["", "?hours=168&limit=100", "?hours=1&limit=1"]) {
    const r = await get(query);
    assert.equal(r.status, 200, `${query}: ${JSON.stringify(r.body)}`);
    assert.ok(Array.isArray(r.body.items));
    assert.ok(r.body.asOf === null || !Number.isNaN(Date.parse(r.body.asOf)));
    if (query.endsWith("limit=1")) assert.ok(r.body.items.length <= 1);
  }
  const units = (await get("?limit=100")).body.items.map((i: { unitsSold: number }) => i.unitsSold);
  assert.deepEqual(units, [...units].sort((a, b) => b - a), "most first");
});

Deno.test("best sellers: 401 without a token", real, async () => {
  const r = await get("", false);
  assert.equal(r.status, 401);
});
