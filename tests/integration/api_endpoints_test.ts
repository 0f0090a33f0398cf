/** Every endpoint's success path, response bodies checked field by field (real Postgres). */
import assert from "node:assert/strict";
import { adminToken, api, newUser } from "../helpers/api.ts";
import { db, real } from "../helpers/stack.ts";
import { createOpsApp } from "../../src/app.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test(
  "api: products are created by admins and read with their current stock",
  real,
  async () => {
    const sql = db();
    try {
      const { call } = api();
      const admin = adminToken();
      const user = newUser();
      const created = await call("POST", "/products", {
        token: admin,
        body: { name: "  Deno in Action ", price: 15000, stock: 7 },
      });
      assert.equal(created.status, 201);
      assert.match(created.body.id, UUID);
      assert.deepEqual(created.body, {
        id: created.body.id,
        name: "Deno in Action",
        price: 15000,
        stock: 7,
      });
      assert.equal(created.headers.get("location"), `/products/${created.body.id}`);

      const read = await call("GET", `/products/${created.body.id}`, { token: user.token });
      assert.equal(read.status, 200);
      assert.deepEqual(read.body, created.body);
    } finally {
      await sql.end();
    }
  },
);

Deno.test("api: coupons, FCFS issue requests, request status, my coupons", real, async () => {
  const sql = db();
  try {
    const { call } = api();
    const admin = adminToken();
    const user = newUser();
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const fixed = await call("POST", "/coupons", {
      token: admin,
      body: {
        name: "3000 off",
        discount: { type: "fixed", amount: 3000 },
        totalQuantity: 50,
        expiresAt,
      },
    });
    assert.equal(fixed.status, 201);
    assert.match(fixed.body.id, UUID);
    assert.deepEqual(fixed.body, {
      id: fixed.body.id,
      name: "3000 off",
      discount: { type: "fixed", amount: 3000 },
      totalQuantity: 50,
      issuedQuantity: 0,
      expiresAt,
    });
    const percent = await call("POST", "/coupons", {
      token: admin,
      body: { name: "10%", discount: { type: "percent", percent: 10 }, totalQuantity: 1 },
    });
    assert.equal(percent.status, 201);
    assert.equal(percent.body.expiresAt, null);
    assert.deepEqual(percent.body.discount, { type: "percent", percent: 10 });

    const read = await call("GET", `/coupons/${fixed.body.id}`, { token: user.token });
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, fixed.body);

    const first = await call("POST", `/coupons/${fixed.body.id}/issue-requests`, {
      token: user.token,
    });
    assert.equal(first.status, 202);
    assert.match(first.body.requestId, UUID);
    assert.deepEqual(first.body, {
      requestId: first.body.requestId,
      couponId: fixed.body.id,
      status: "PENDING",
    });
    assert.equal(first.headers.get("location"), `/coupon-requests/${first.body.requestId}`);

    const again = await call("POST", `/coupons/${fixed.body.id}/issue-requests`, {
      token: user.token,
    });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, first.body);
    assert.equal(again.headers.get("location"), first.headers.get("location"));

    const status = await call("GET", `/coupon-requests/${first.body.requestId}`, {
      token: user.token,
    });
    assert.equal(status.status, 200);
    assert.deepEqual(status.body, first.body);

    // No worker runs here: the user holds nothing yet. Grant one directly to see the shape.
    const mine0 = await call("GET", "/users/me/coupons", { token: user.token });
    assert.deepEqual(mine0, { ...mine0, status: 200, body: { items: [] } });
    const ucId = crypto.randomUUID();
    await sql`insert into user_coupons (id, coupon_id, user_id) values (${ucId}, ${fixed.body.id}, ${user.id})`;
    const mine = await call("GET", "/users/me/coupons", { token: user.token });
    assert.equal(mine.status, 200);
    assert.equal(mine.body.items.length, 1);
    const [item] = mine.body.items;
    assert.ok(!Number.isNaN(Date.parse(item.issuedAt)));
    assert.deepEqual(item, {
      userCouponId: ucId,
      couponId: fixed.body.id,
      status: "AVAILABLE",
      issuedAt: item.issuedAt,
    });
  } finally {
    await sql.end();
  }
});

Deno.test("api: wallet charges add up; a new user has 0", real, async () => {
  const sql = db();
  try {
    const { call } = api();
    const user = newUser();
    assert.deepEqual((await call("GET", "/wallet", { token: user.token })).body, { balance: 0 });
    const a = await call("POST", "/wallet/charges", {
      token: user.token,
      body: { amount: 10_000 },
    });
    assert.equal(a.status, 200);
    assert.deepEqual(a.body, { balance: 10_000 });
    const b = await call("POST", "/wallet/charges", {
      token: user.token,
      body: { amount: 1_000_000_000 },
    });
    assert.deepEqual(b.body, { balance: 1_000_010_000 });
    const read = await call("GET", "/wallet", { token: user.token });
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, { balance: 1_000_010_000 });
  } finally {
    await sql.end();
  }
});

Deno.test(
  "api: orders snapshot prices, apply the coupon, and list newest first with a cursor",
  real,
  async () => {
    const sql = db();
    try {
      const { call } = api();
      const admin = adminToken();
      const user = newUser();
      const p1 = (await call("POST", "/products", {
        token: admin,
        body: { name: "A", price: 999, stock: 100 },
      })).body;
      const p2 = (await call("POST", "/products", {
        token: admin,
        body: { name: "B", price: 2501, stock: 100 },
      })).body;
      const coupon = (await call("POST", "/coupons", {
        token: admin,
        body: { name: "15%", discount: { type: "percent", percent: 15 }, totalQuantity: 5 },
      })).body;
      const ucId = crypto.randomUUID();
      await sql`insert into user_coupons (id, coupon_id, user_id) values (${ucId}, ${coupon.id}, ${user.id})`;

      const placed = await call("POST", "/orders", {
        token: user.token,
        body: {
          items: [{ productId: p2.id, quantity: 3 }, { productId: p1.id, quantity: 2 }],
          userCouponId: ucId,
        },
      });
      assert.equal(placed.status, 202);
      assert.match(placed.body.orderId, UUID);
      assert.deepEqual(placed.body, { orderId: placed.body.orderId, status: "PENDING" });
      assert.equal(placed.headers.get("location"), `/orders/${placed.body.orderId}`);

      // Prices are snapshotted: a later price change does not touch the order.
      await sql`update products set price = 1 where id = ${p1.id}`;
      const order = await call("GET", `/orders/${placed.body.orderId}`, { token: user.token });
      assert.equal(order.status, 200);
      const total = 3 * 2501 + 2 * 999; // 9501
      const discount = Math.floor(total * 15 / 100); // 1425
      assert.deepEqual(order.body, {
        orderId: placed.body.orderId,
        status: "PENDING",
        items: [
          { productId: p2.id, quantity: 3, unitPrice: 2501 },
          { productId: p1.id, quantity: 2, unitPrice: 999 },
        ],
        totalAmount: total,
        discountAmount: discount,
        paymentAmount: total - discount,
        createdAt: order.body.createdAt,
        updatedAt: order.body.updatedAt,
      });
      assert.ok(Date.parse(order.body.createdAt) <= Date.parse(order.body.updatedAt));

      const more = [];
      for (let i = 0; i < 3; i++) {
        more.push(
          (await call("POST", "/orders", {
            token: user.token,
            body: { items: [{ productId: p1.id, quantity: 1 }] },
          })).body.orderId,
        );
      }
      const newestFirst = [...more].reverse().concat(placed.body.orderId);
      const page1 = await call("GET", "/orders?limit=3", { token: user.token });
      assert.equal(page1.status, 200);
      assert.deepEqual(
        page1.body.items.map((o: { orderId: string }) => o.orderId),
        newestFirst.slice(0, 3),
      );
      assert.equal(page1.body.nextCursor, newestFirst[2]);
      const page2 = await call("GET", `/orders?limit=3&cursor=${page1.body.nextCursor}`, {
        token: user.token,
      });
      assert.deepEqual(
        page2.body.items.map((o: { orderId: string }) => o.orderId),
        newestFirst.slice(3),
      );
      assert.equal(page2.body.nextCursor, null);
      assert.equal(page2.body.items[0].totalAmount, total);

      const other = newUser();
      const theirs = await call("GET", "/orders", { token: other.token });
      assert.deepEqual(theirs.body, { items: [], nextCursor: null });
    } finally {
      await sql.end();
    }
  },
);

Deno.test("api: health, metrics, OpenAPI document and docs page", real, async () => {
  const sql = db();
  try {
    const { app, call } = api();
    assert.deepEqual((await call("GET", "/health/live")).body, { status: "ok" });
    const ready = await call("GET", "/health/ready");
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: "ok", checks: { database: { status: "ok" } } });
    // Metrics only on the internal ops port, which answers health as the public port does.
    assert.equal((await call("GET", "/metrics")).status, 404);
    const ops = createOpsApp(app);
    const metrics = await ops.request("/metrics");
    assert.equal(metrics.status, 200);
    assert.match(
      await metrics.text(),
      /http_requests_total\{method="GET",route="\/health\/ready",status="200"\} \d+/,
    );
    const opsReady = await ops.request("/health/ready");
    assert.equal(opsReady.status, 200);
    assert.deepEqual(await opsReady.json(), ready.body);
    assert.equal((await ops.request("/orders")).status, 404, "the ops port serves no route");
    const doc = await call("GET", "/openapi.json");
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, "3.1.0");
    for (
      const path of [
        "/products",
        "/products/{id}",
        "/coupons",
        "/coupons/{id}",
        "/coupons/{id}/issue-requests",
        "/coupon-requests/{id}",
        "/users/me/coupons",
        "/wallet/charges",
        "/wallet",
        "/orders",
        "/orders/{id}",
      ]
    ) {
      assert.ok(doc.body.paths[path], `OpenAPI documents ${path}`);
    }
    assert.ok(doc.body.components.schemas.NewOrder, "schemas come from zod");
    const docs = await call("GET", "/docs");
    assert.equal(docs.status, 200);
    assert.match(docs.body, /swagger/i);
    const res = await call("GET", "/health/live", { headers: { "x-request-id": "abc-123" } });
    assert.equal(res.headers.get("x-request-id"), "abc-123");
  } finally {
    await sql.end();
  }
});
