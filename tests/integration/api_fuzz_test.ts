/**
 * Property-based HTTP fuzzing (fast-check) against every route of the real app and database:
 * random methods, paths, headers, tokens and bodies never produce a 5xx, and a 4xx never changes
 * a table. Generated strings include NUL and unpaired UTF-16 surrogates, which Postgres cannot
 * store. Seeded and repeatable: FUZZ_SEED=<n> replays a run; a failure prints its seed.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { adminToken, api, newUser } from "../helpers/api.ts";
import { tableChecksums } from "../helpers/table_checksums.ts";
import { db, real } from "../helpers/stack.ts";

const seed = Number(Deno.env.get("FUZZ_SEED") ?? Date.now() % 2 ** 31);

/** What Postgres refuses (NUL) or cannot encode (lone surrogates; "\ud800\udc00" is a pair). */
const UNSTORABLE = ["\u0000", "\ud800", "\udbff", "\udc00", "\udfff"];
/** One character of a generated string: any of U+0000-U+00FF, often an unstorable one. */
const unit = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: "binary-ascii", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.constantFrom(...UNSTORABLE) },
);
/** Strings for JSON bodies: JSON.stringify escapes the surrogates, JSON.parse restores them. */
const text = (maxLength?: number) => fc.string({ unit, maxLength });
/** Strings for URLs: no lone surrogates, as a URL cannot carry them (NUL is %00). */
const urlText = fc.string({ unit: "binary-ascii" });
const unstorable = (s: string) => s.includes("\0") || !s.isWellFormed();

Deno.test(`api fuzz: no 5xx, and no table changes on a 4xx (seed ${seed})`, real, async () => {
  const sql = db(4);
  try {
    const { call } = api();
    const admin = adminToken();
    const user = newUser("fuzz");
    const product =
      (await call("POST", "/products", { token: admin, body: { name: "fz", price: 10, stock: 5 } }))
        .body.id;
    const coupon = (await call("POST", "/coupons", {
      token: admin,
      body: { name: "fz", discount: { type: "fixed", amount: 1 }, totalQuantity: 5 },
    })).body.id;
    const ids = [
      product,
      coupon,
      crypto.randomUUID(),
      "not-a-uuid",
      "' or 1=1 --",
      "%00",
      "\u0000",
      "a\u0000b",
      "..",
      "",
    ];
    const path = fc.oneof(
      fc.constantFrom(
        "/products",
        "/coupons",
        "/wallet",
        "/wallet/charges",
        "/users/me/coupons",
        "/orders",
        "/health/live",
        "/health/ready",
        "/openapi.json",
      ),
      fc.tuple(
        fc.constantFrom("/products/", "/coupons/", "/coupon-requests/", "/orders/"),
        fc.constantFrom(...ids),
      )
        .map(([a, b]) => a + encodeURIComponent(b)),
      fc.constantFrom(...ids).map((id) => `/coupons/${encodeURIComponent(id)}/issue-requests`),
      fc.webPath(),
      fc.tuple(fc.constantFrom("/orders?", "/orders?limit=", "/orders?cursor="), urlText)
        .map(([a, b]) => a + encodeURIComponent(b)),
    );
    const token = fc.oneof(
      fc.constant(undefined),
      fc.constant(user.token),
      fc.constant(admin),
      fc.string({ maxLength: 60 }),
      fc.constant(user.token.slice(0, -2) + "xx"),
    );
    const body = fc.oneof(
      fc.constant(undefined),
      fc.json({ maxDepth: 3, stringUnit: unit }),
      text(200),
      fc.record({
        items: fc.array(
          fc.record({
            productId: fc.oneof(fc.constantFrom(...ids), text()),
            quantity: fc.integer({ min: -5, max: 2000 }),
          }),
          { maxLength: 3 },
        ),
        userCouponId: fc.option(fc.oneof(fc.constantFrom(...ids), text()), { nil: undefined }),
      }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
      fc.record({
        amount: fc.oneof(
          fc.integer({ min: -10, max: 0 }),
          fc.double(),
          text(),
          fc.constant(2e9),
        ),
        name: text(),
        price: fc.integer({ min: -5, max: 5 }),
        stock: fc.constant(-1),
        discount: fc.anything({ stringUnit: unit }),
        totalQuantity: fc.integer({ min: -1, max: 0 }),
      }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
    );
    const request = fc.record({
      method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH"),
      path,
      token,
      body,
      contentType: fc.constantFrom(
        undefined,
        "application/json",
        "text/plain",
        "application/json; charset=utf-8",
        "multipart/form-data",
      ),
      idempotencyKey: fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
    });

    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = {};
        if (r.contentType) headers["content-type"] = r.contentType;
        if (r.idempotencyKey !== undefined && /^[\t\x20-\x7e]*$/.test(r.idempotencyKey)) {
          headers["idempotency-key"] = r.idempotencyKey;
        }
        if (r.token !== undefined && /^[\t\x20-\x7e]*$/.test(r.token)) {
          headers.authorization = `Bearer ${r.token}`;
        }
        const before = await tableChecksums(sql);
        const res = await call(r.method, r.path.startsWith("/") ? r.path : `/${r.path}`, {
          headers,
          raw: r.method === "GET" ? undefined : r.body,
        });
        assert.ok(res.status < 500, `5xx for ${JSON.stringify(r)}: ${JSON.stringify(res.body)}`);
        if (res.status >= 400) {
          assert.deepEqual(
            await tableChecksums(sql),
            before,
            `a ${res.status} changed a table: ${JSON.stringify(r)}`,
          );
          assert.match(res.headers.get("content-type") ?? "", /problem\+json/);
        }
      }),
      { seed, numRuns: Number(Deno.env.get("FUZZ_RUNS") ?? 300) },
    );
  } finally {
    await sql.end();
  }
});

Deno.test(
  `api fuzz: an unstorable string is a 400 naming its field (seed ${seed})`,
  real,
  async () => {
    const sql = db(2);
    try {
      const { call } = api();
      const admin = adminToken();
      const write = fc.oneof(
        fc.record({
          path: fc.constant("/products"),
          body: fc.record({ name: text(12), price: fc.constant(1), stock: fc.constant(1) }),
          field: fc.constant(["name"]),
        }),
        fc.record({
          path: fc.constant("/coupons"),
          body: fc.record({
            name: text(12),
            discount: fc.record({ type: fc.constant("fixed"), amount: fc.constant(1) }),
            totalQuantity: fc.constant(1),
          }),
          field: fc.constant(["name"]),
        }),
        // A nested field whose value is otherwise valid: the check is not only top-level.
        fc.tuple(text(12), fc.constantFrom(...UNSTORABLE)).map(([name, bad]) => ({
          path: "/coupons",
          body: { name, discount: { type: `fixed${bad}`, amount: 1 }, totalQuantity: 1 },
          field: ["discount", "type"],
        })),
      );
      await fc.assert(
        fc.asyncProperty(write, async ({ path, body, field }) => {
          // deno-lint-ignore no-explicit-any
          const value = field.reduce((o: any, k) => o[k], body) as string;
          const before = await tableChecksums(sql);
          const res = await call("POST", path, { token: admin, body });
          const what = `${path} ${JSON.stringify(body)}: ${res.status} ${JSON.stringify(res.body)}`;
          if (!unstorable(value)) {
            assert.ok(res.status === 201 || res.status === 400, what);
            return;
          }
          assert.equal(res.status, 400, what);
          assert.match(res.headers.get("content-type") ?? "", /problem\+json/);
          const fieldPath = ["body", ...field].join(".");
          assert.ok(
            res.body.errors.some((e: { path: string }) => e.path === fieldPath),
            `names ${fieldPath}: ${what}`,
          );
          assert.deepEqual(await tableChecksums(sql), before, `a 400 changed a table: ${what}`);
        }),
        { seed, numRuns: Math.ceil(Number(Deno.env.get("FUZZ_RUNS") ?? 300) / 3) },
      );
    } finally {
      await sql.end();
    }
  },
);
