/**
 * A table of bad requests: each gets the expected 4xx as application/problem+json, never a 5xx,
 * and writes nothing: every application table, the outbox included, has the same checksum after
 * it as before (tests/helpers/table_checksums.ts), so an UPDATE shows as well as an INSERT.
 */
import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import { adminToken, api, JWT_SECRET, newUser, token } from "../helpers/api.ts";
import { tableChecksums } from "../helpers/table_checksums.ts";
import { db, real } from "../helpers/stack.ts";

const sql = db(8);
const { call } = api();
const admin = adminToken();
const alice = newUser("alice");
const bob = newUser("bob");
const now = Math.floor(Date.now() / 1000);
const b64 = (o: unknown) =>
  btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");

const product =
  (await call("POST", "/products", { token: admin, body: { name: "P", price: 100, stock: 5 } }))
    .body;
const coupon = (await call("POST", "/coupons", {
  token: admin,
  body: { name: "C", discount: { type: "fixed", amount: 10 }, totalQuantity: 5 },
})).body;
const bobsRequest =
  (await call("POST", `/coupons/${coupon.id}/issue-requests`, { token: bob.token })).body;
const bobsOrder = (await call("POST", "/orders", {
  token: bob.token,
  body: { items: [{ productId: product.id, quantity: 1 }] },
})).body;
const bobsCoupon = crypto.randomUUID();
await sql`insert into user_coupons (id, coupon_id, user_id) values (${bobsCoupon}, ${coupon.id}, ${bob.id})`;
await call("POST", "/wallet/charges", {
  token: alice.token,
  body: { amount: 1 },
  headers: { "idempotency-key": "used-once" },
});
const unknownId = "01234567-89ab-7def-8123-456789abcdef";
const order = (items: unknown, extra: Record<string, unknown> = {}) => ({ items, ...extra });
const line = (quantity = 1, productId = product.id) => ({ productId, quantity });

interface Case {
  name: string;
  method: string;
  path: string;
  token?: string | Promise<string>;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  status: number;
  /** A path that the 400's `errors` must name. */
  errorPath?: string;
}

const A = alice.token;
const cases: Case[] = [
  // authentication and authorization
  { name: "no token", method: "GET", path: "/wallet", status: 401 },
  {
    name: "not a bearer header",
    method: "GET",
    path: "/wallet",
    headers: { authorization: `Token ${A}` },
    status: 401,
  },
  { name: "garbage token", method: "GET", path: "/wallet", token: "abc.def.ghi", status: 401 },
  {
    name: "forged: another secret",
    method: "GET",
    path: "/wallet",
    token: sign({ sub: "alice", exp: now + 60 }, "another-secret-another-secret-another", "HS256"),
    status: 401,
  },
  {
    name: "expired token",
    method: "GET",
    path: "/wallet",
    token: sign({ sub: "alice", exp: now - 5 }, JWT_SECRET, "HS256"),
    status: 401,
  },
  {
    name: "alg none",
    method: "GET",
    path: "/wallet",
    token: `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "alice", exp: now + 60 })}.e30`,
    status: 401,
  },
  {
    name: "HS512 with the right secret",
    method: "GET",
    path: "/wallet",
    token: sign({ sub: "alice", exp: now + 60 }, JWT_SECRET, "HS512"),
    status: 401,
  },
  {
    name: "no sub",
    method: "GET",
    path: "/wallet",
    token: sign({ exp: now + 60 }, JWT_SECRET, "HS256"),
    status: 401,
  },
  {
    name: "sub with a space",
    method: "GET",
    path: "/wallet",
    token: sign({ sub: "a b", exp: now + 60 }, JWT_SECRET, "HS256"),
    status: 401,
  },
  {
    name: "sub of 65 chars",
    method: "GET",
    path: "/wallet",
    token: sign({ sub: "a".repeat(65), exp: now + 60 }, JWT_SECRET, "HS256"),
    status: 401,
  },
  {
    name: "no exp",
    method: "GET",
    path: "/wallet",
    token: sign({ sub: "alice" }, JWT_SECRET, "HS256"),
    status: 401,
  },
  {
    name: "no iat",
    method: "POST",
    path: "/wallet/charges",
    token: sign({ sub: "alice", exp: now + 60 }, JWT_SECRET, "HS256"),
    body: { amount: 1 },
    status: 401,
  },
  {
    name: "lifetime over 24 h (exp 9999999999)",
    method: "POST",
    path: "/wallet/charges",
    token: sign({ sub: "alice", iat: now, exp: 9_999_999_999 }, JWT_SECRET, "HS256"),
    body: { amount: 1 },
    status: 401,
  },
  {
    name: "user creates a product",
    method: "POST",
    path: "/products",
    token: A,
    body: { name: "x", price: 1, stock: 1 },
    status: 403,
  },
  {
    name: "user creates a coupon",
    method: "POST",
    path: "/coupons",
    token: A,
    body: { name: "x", discount: { type: "fixed", amount: 1 }, totalQuantity: 1 },
    status: 403,
  },
  {
    name: "role user is not admin",
    method: "POST",
    path: "/products",
    token: sign({ sub: "x", role: "user", iat: now, exp: now + 60 }, JWT_SECRET, "HS256"),
    body: { name: "x", price: 1, stock: 1 },
    status: 403,
  },
  // products
  {
    name: "product: malformed JSON",
    method: "POST",
    path: "/products",
    token: admin,
    raw: '{"name":',
    headers: { "content-type": "application/json" },
    status: 400,
  },
  {
    name: "product: missing name",
    method: "POST",
    path: "/products",
    token: admin,
    body: { price: 1, stock: 1 },
    status: 400,
  },
  {
    name: "product: blank name",
    method: "POST",
    path: "/products",
    token: admin,
    body: { name: "   ", price: 1, stock: 1 },
    status: 400,
  },
  {
    name: "product: negative price",
    method: "POST",
    path: "/products",
    token: admin,
    body: { name: "x", price: -1, stock: 1 },
    status: 400,
  },
  {
    name: "product: fractional price",
    method: "POST",
    path: "/products",
    token: admin,
    body: { name: "x", price: 1.5, stock: 1 },
    status: 400,
  },
  {
    name: "product: price as string",
    method: "POST",
    path: "/products",
    token: admin,
    body: { name: "x", price: "100", stock: 1 },
    status: 400,
  },
  {
    name: "product: huge stock",
    method: "POST",
    path: "/products",
    token: admin,
    body: { name: "x", price: 1, stock: 1e12 },
    status: 400,
  },
  {
    name: "product: number beyond float",
    method: "POST",
    path: "/products",
    token: admin,
    raw: '{"name":"x","price":1e400,"stock":1}',
    headers: { "content-type": "application/json" },
    status: 400,
  },
  {
    name: "product: unknown field",
    method: "POST",
    path: "/products",
    token: admin,
    body: { name: "x", price: 1, stock: 1, id: unknownId },
    status: 400,
  },
  {
    name: "product: array body",
    method: "POST",
    path: "/products",
    token: admin,
    body: [],
    status: 400,
  },
  {
    name: "product: null body",
    method: "POST",
    path: "/products",
    token: admin,
    raw: "null",
    headers: { "content-type": "application/json" },
    status: 400,
  },
  {
    name: "product: text/plain",
    method: "POST",
    path: "/products",
    token: admin,
    raw: '{"name":"x","price":1,"stock":1}',
    headers: { "content-type": "text/plain" },
    status: 415,
  },
  {
    name: "product: no content type",
    method: "POST",
    path: "/products",
    token: admin,
    raw: '{"name":"x","price":1,"stock":1}',
    status: 415,
  },
  {
    name: "product: unknown id",
    method: "GET",
    path: `/products/${unknownId}`,
    token: A,
    status: 404,
  },
  {
    name: "product: id not a uuid",
    method: "GET",
    path: "/products/1%27%20or%201=1",
    token: A,
    status: 404,
  },
  // coupons
  {
    name: "coupon: unknown discount type",
    method: "POST",
    path: "/coupons",
    token: admin,
    body: { name: "x", discount: { type: "bogus", amount: 1 }, totalQuantity: 1 },
    status: 400,
  },
  {
    name: "coupon: percent 0",
    method: "POST",
    path: "/coupons",
    token: admin,
    body: { name: "x", discount: { type: "percent", percent: 0 }, totalQuantity: 1 },
    status: 400,
  },
  {
    name: "coupon: percent 101",
    method: "POST",
    path: "/coupons",
    token: admin,
    body: { name: "x", discount: { type: "percent", percent: 101 }, totalQuantity: 1 },
    status: 400,
  },
  {
    name: "coupon: fixed with percent field",
    method: "POST",
    path: "/coupons",
    token: admin,
    body: { name: "x", discount: { type: "fixed", percent: 5 }, totalQuantity: 1 },
    status: 400,
  },
  {
    name: "coupon: zero quantity",
    method: "POST",
    path: "/coupons",
    token: admin,
    body: { name: "x", discount: { type: "fixed", amount: 1 }, totalQuantity: 0 },
    status: 400,
  },
  {
    name: "coupon: expiry in the past",
    method: "POST",
    path: "/coupons",
    token: admin,
    body: {
      name: "x",
      discount: { type: "fixed", amount: 1 },
      totalQuantity: 1,
      expiresAt: "2020-01-01T00:00:00Z",
    },
    status: 400,
  },
  {
    name: "coupon: expiry not a date",
    method: "POST",
    path: "/coupons",
    token: admin,
    body: {
      name: "x",
      discount: { type: "fixed", amount: 1 },
      totalQuantity: 1,
      expiresAt: "tomorrow",
    },
    status: 400,
  },
  {
    name: "coupon: unknown id",
    method: "GET",
    path: `/coupons/${unknownId}`,
    token: A,
    status: 404,
  },
  {
    name: "coupon: request for an unknown coupon",
    method: "POST",
    path: `/coupons/${unknownId}/issue-requests`,
    token: A,
    status: 404,
  },
  {
    name: "coupon: request for a non-uuid coupon",
    method: "POST",
    path: "/coupons/abc/issue-requests",
    token: A,
    status: 404,
  },
  {
    name: "coupon: another user's request",
    method: "GET",
    path: `/coupon-requests/${bobsRequest.requestId}`,
    token: A,
    status: 404,
  },
  // wallet
  {
    name: "wallet: zero",
    method: "POST",
    path: "/wallet/charges",
    token: A,
    body: { amount: 0 },
    status: 400,
  },
  {
    name: "wallet: negative",
    method: "POST",
    path: "/wallet/charges",
    token: A,
    body: { amount: -5 },
    status: 400,
  },
  {
    name: "wallet: above 1e9",
    method: "POST",
    path: "/wallet/charges",
    token: A,
    body: { amount: 1_000_000_001 },
    status: 400,
  },
  {
    name: "wallet: string amount",
    method: "POST",
    path: "/wallet/charges",
    token: A,
    body: { amount: "10" },
    status: 400,
  },
  {
    name: "wallet: null amount",
    method: "POST",
    path: "/wallet/charges",
    token: A,
    body: { amount: null },
    status: 400,
  },
  {
    name: "wallet: empty body",
    method: "POST",
    path: "/wallet/charges",
    token: A,
    body: {},
    status: 400,
  },
  {
    name: "wallet: idempotency key of 256 chars",
    method: "POST",
    path: "/wallet/charges",
    token: A,
    body: { amount: 5 },
    headers: { "idempotency-key": "k".repeat(256) },
    status: 400,
  },
  {
    name: "wallet: idempotency key with a space",
    method: "POST",
    path: "/wallet/charges",
    token: A,
    body: { amount: 5 },
    headers: { "idempotency-key": "a b" },
    status: 400,
  },
  {
    name: "wallet: key reused with another body",
    method: "POST",
    path: "/wallet/charges",
    token: A,
    body: { amount: 2 },
    headers: { "idempotency-key": "used-once" },
    status: 422,
  },
  // orders
  {
    name: "order: no items",
    method: "POST",
    path: "/orders",
    token: A,
    body: order([]),
    status: 400,
  },
  {
    name: "order: 101 items",
    method: "POST",
    path: "/orders",
    token: A,
    body: order(Array.from({ length: 101 }, () => line(1, crypto.randomUUID()))),
    status: 400,
  },
  {
    name: "order: duplicate products",
    method: "POST",
    path: "/orders",
    token: A,
    body: order([line(1), line(2)]),
    status: 400,
  },
  {
    name: "order: quantity 0",
    method: "POST",
    path: "/orders",
    token: A,
    body: order([line(0)]),
    status: 400,
  },
  {
    name: "order: quantity 1001",
    method: "POST",
    path: "/orders",
    token: A,
    body: order([line(1001)]),
    status: 400,
  },
  {
    name: "order: fractional quantity",
    method: "POST",
    path: "/orders",
    token: A,
    body: order([line(1.5)]),
    status: 400,
  },
  {
    name: "order: product id not a uuid",
    method: "POST",
    path: "/orders",
    token: A,
    body: order([line(1, "p-1")]),
    status: 400,
  },
  {
    name: "order: items not an array",
    method: "POST",
    path: "/orders",
    token: A,
    body: order({ productId: product.id }),
    status: 400,
  },
  {
    name: "order: unknown item field",
    method: "POST",
    path: "/orders",
    token: A,
    body: order([{ ...line(1), price: 1 }]),
    status: 400,
  },
  {
    name: "order: unknown product",
    method: "POST",
    path: "/orders",
    token: A,
    body: order([line(1), line(1, unknownId)]),
    status: 422,
  },
  {
    name: "order: another user's coupon",
    method: "POST",
    path: "/orders",
    token: A,
    body: order([line(1)], { userCouponId: bobsCoupon }),
    status: 422,
  },
  {
    name: "order: unknown coupon",
    method: "POST",
    path: "/orders",
    token: A,
    body: order([line(1)], { userCouponId: unknownId }),
    status: 422,
  },
  {
    name: "order: SQL-looking coupon id",
    method: "POST",
    path: "/orders",
    token: A,
    body: order([line(1)], { userCouponId: "' or 1=1 --" }),
    status: 400,
  },
  {
    name: "order: another user's order",
    method: "GET",
    path: `/orders/${bobsOrder.orderId}`,
    token: A,
    status: 404,
  },
  {
    name: "order: unknown order",
    method: "GET",
    path: `/orders/${unknownId}`,
    token: A,
    status: 404,
  },
  { name: "orders: limit 0", method: "GET", path: "/orders?limit=0", token: A, status: 400 },
  { name: "orders: limit 101", method: "GET", path: "/orders?limit=101", token: A, status: 400 },
  { name: "orders: limit abc", method: "GET", path: "/orders?limit=abc", token: A, status: 400 },
  { name: "orders: bad cursor", method: "GET", path: "/orders?cursor=xyz", token: A, status: 400 },
  {
    name: "orders: unknown query field",
    method: "GET",
    path: "/orders?sort=asc",
    token: A,
    status: 400,
  },
  {
    name: "order: body over the limit",
    method: "POST",
    path: "/orders",
    token: A,
    raw: JSON.stringify({ items: [line(1)], pad: "x".repeat(70_000) }),
    headers: { "content-type": "application/json" },
    status: 413,
  },
  // strings Postgres cannot store: NUL (refused in text and jsonb) and unpaired UTF-16
  // surrogates (no UTF-8 form); JSON.stringify writes them as \u escapes, as a client would
  {
    name: "product: NUL in the name",
    method: "POST",
    path: "/products",
    token: admin,
    body: { name: "a\u0000b", price: 1, stock: 1 },
    status: 400,
    errorPath: "body.name",
  },
  {
    name: "product: lone high surrogate in the name",
    method: "POST",
    path: "/products",
    token: admin,
    body: { name: "a\ud800b", price: 1, stock: 1 },
    status: 400,
    errorPath: "body.name",
  },
  {
    // An unescaped control character is not JSON: refused as malformed before any schema.
    name: "product: a raw NUL byte in the JSON text",
    method: "POST",
    path: "/products",
    token: admin,
    raw: '{"name":"a\u0000b","price":1,"stock":1}',
    headers: { "content-type": "application/json" },
    status: 400,
  },
  {
    name: "coupon: lone surrogate in the name",
    method: "POST",
    path: "/coupons",
    token: admin,
    body: { name: "\ud800", discount: { type: "fixed", amount: 1 }, totalQuantity: 1 },
    status: 400,
    errorPath: "body.name",
  },
  {
    name: "coupon: lone low surrogate after a valid pair",
    method: "POST",
    path: "/coupons",
    token: admin,
    body: { name: "\ud83d\ude00\ude00", discount: { type: "fixed", amount: 1 }, totalQuantity: 1 },
    status: 400,
    errorPath: "body.name",
  },
  {
    name: "coupon: NUL in a nested field",
    method: "POST",
    path: "/coupons",
    token: admin,
    body: { name: "x", discount: { type: "fixed\u0000", amount: 1 }, totalQuantity: 1 },
    status: 400,
    errorPath: "body.discount.type",
  },
  {
    name: "coupon: NUL in an unknown field's name",
    method: "POST",
    path: "/coupons",
    token: admin,
    body: { name: "x", discount: { type: "fixed", amount: 1 }, totalQuantity: 1, "a\u0000": 1 },
    status: 400,
    errorPath: "body.a\u0000",
  },
  {
    name: "order: NUL in a product id",
    method: "POST",
    path: "/orders",
    token: A,
    body: order([line(1, `${product.id}\u0000`)]),
    status: 400,
    errorPath: "body.items.0.productId",
  },
  {
    name: "wallet: lone surrogate in an unknown field",
    method: "POST",
    path: "/wallet/charges",
    token: A,
    body: { amount: 1, note: "\udfff" },
    status: 400,
    errorPath: "body.note",
  },
  {
    name: "orders: NUL in the cursor",
    method: "GET",
    path: "/orders?cursor=%00",
    token: A,
    status: 400,
    errorPath: "query.cursor",
  },
  {
    name: "orders: NUL in the limit",
    method: "GET",
    path: "/orders?limit=1%00",
    token: A,
    status: 400,
    errorPath: "query.limit",
  },
  { name: "product: NUL as the id", method: "GET", path: "/products/%00", token: A, status: 404 },
  {
    name: "order: NUL in the id",
    method: "GET",
    path: `/orders/${bobsOrder.orderId}%00`,
    token: A,
    status: 404,
  },
  {
    name: "coupon: request for a coupon id with NUL",
    method: "POST",
    path: `/coupons/${coupon.id}%00/issue-requests`,
    token: A,
    status: 404,
  },
  // routing
  { name: "unknown route", method: "GET", path: "/nope", token: A, status: 404 },
  { name: "wrong method", method: "DELETE", path: "/orders", token: A, status: 404 },
];

Deno.test(
  `api: ${cases.length} bad requests get problem+json 4xx and change nothing`,
  real,
  async (t) => {
    assert.ok(cases.length >= 40);
    try {
      for (const c of cases) {
        await t.step(`${c.name} -> ${c.status}`, async () => {
          const before = await tableChecksums(sql);
          const res = await call(c.method, c.path, {
            token: await c.token,
            body: c.body,
            raw: c.raw,
            headers: c.headers,
          });
          assert.equal(res.status, c.status, JSON.stringify(res.body));
          assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
          assert.equal(res.body.type, "about:blank");
          assert.equal(res.body.status, c.status);
          assert.equal(typeof res.body.title, "string");
          assert.equal(typeof res.body.detail, "string");
          assert.equal(res.body.instance, decodeURIComponent(new URL(c.path, "http://x").pathname));
          if (c.status === 400) {
            assert.ok(
              Array.isArray(res.body.errors) && res.body.errors.length > 0,
              "errors listed",
            );
            for (const e of res.body.errors) {
              assert.equal(typeof e.path, "string");
              assert.equal(typeof e.message, "string");
            }
          }
          if (c.errorPath !== undefined) {
            assert.ok(
              res.body.errors.some((e: { path: string }) => e.path === c.errorPath),
              `errors name ${JSON.stringify(c.errorPath)}: ${JSON.stringify(res.body.errors)}`,
            );
          }
          if (c.status === 401) assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
          assert.deepEqual(await tableChecksums(sql), before, "no table changed");
        });
      }
    } finally {
      await sql.end();
    }
  },
);

Deno.test("api: a valid user token reads a product (control for the 401 rows)", real, async () => {
  const s = db(1);
  try {
    const res = await api().call("GET", `/products/${product.id}`, {
      token: token("someone"),
    });
    assert.equal(res.status, 200);
  } finally {
    await s.end();
  }
});
