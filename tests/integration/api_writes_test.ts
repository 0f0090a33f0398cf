/**
 * Write paths: each appends exactly its expected outbox events (validated by the catalog), a
 * failure before commit leaves no business row and no outbox row, and concurrent duplicates
 * (one Idempotency-Key; one user and coupon) create exactly one effect.
 */
import assert from "node:assert/strict";
import { EVENTS, type EventType } from "../../src/events/catalog.ts";
import { placeOrder } from "../../src/orders/store.ts";
import { requestIssue } from "../../src/coupons/store.ts";
import { charge, DEFAULT_MAX_BALANCE } from "../../src/wallet/store.ts";
import { adminToken, api, newUser } from "../helpers/api.ts";
import { db, real } from "../helpers/stack.ts";
import type { Sql } from "../../src/platform/db.ts";

interface OutboxRow {
  id: string;
  aggregatetype: string;
  aggregateid: string;
  type: EventType;
  version: number;
  payload: Record<string, unknown>;
  traceparent: string | null;
}

/** The outbox rows `action` appended (tests run one at a time: nothing else writes). */
async function appended(sql: Sql, action: () => Promise<unknown>): Promise<OutboxRow[]> {
  const [{ t }] = await sql<
    { t: string }[]
  >`select (clock_timestamp() at time zone 'utc')::text as t`;
  await action();
  return await sql<OutboxRow[]>`
    select id, aggregatetype, aggregateid, type, version, payload, traceparent from outbox
    where created_at >= ${t}::timestamp order by created_at, id`;
}

function expectEvent(row: OutboxRow, type: EventType, aggregateId: string) {
  assert.equal(row.type, type);
  assert.equal(row.aggregatetype, EVENTS[type].aggregate);
  assert.equal(row.aggregateid, aggregateId);
  assert.equal(row.version, EVENTS[type].version);
  EVENTS[type].schema.parse(row.payload); // throws if the payload breaks the catalog
}

Deno.test("api: each write path appends exactly its events", real, async () => {
  const sql = db();
  try {
    const { call } = api();
    const admin = adminToken();
    const user = newUser();
    const trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    let product: { id: string } = { id: "" };
    let rows = await appended(sql, async () => {
      product = (await call("POST", "/products", {
        token: admin,
        body: { name: "E", price: 700, stock: 3 },
        headers: { traceparent: trace },
      })).body;
    });
    assert.equal(rows.length, 1);
    expectEvent(rows[0], "ProductCreated", product.id);
    assert.deepEqual(rows[0].payload, { productId: product.id, name: "E", price: 700, stock: 3 });
    assert.match(rows[0].traceparent!, /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);

    let coupon: { id: string } = { id: "" };
    rows = await appended(sql, async () => {
      coupon = (await call("POST", "/coupons", {
        token: admin,
        body: { name: "E", discount: { type: "fixed", amount: 100 }, totalQuantity: 2 },
      })).body;
    });
    assert.equal(rows.length, 1);
    expectEvent(rows[0], "CouponCreated", coupon.id);
    assert.deepEqual(rows[0].payload, {
      couponId: coupon.id,
      name: "E",
      discount: { type: "fixed", amount: 100 },
      totalQuantity: 2,
      expiresAt: null,
    });

    let request: { requestId: string } = { requestId: "" };
    rows = await appended(sql, async () => {
      request =
        (await call("POST", `/coupons/${coupon.id}/issue-requests`, { token: user.token })).body;
    });
    assert.equal(rows.length, 1);
    expectEvent(rows[0], "CouponIssueRequested", coupon.id); // keyed by coupon: FCFS order
    assert.deepEqual(rows[0].payload, {
      requestId: request.requestId,
      couponId: coupon.id,
      userId: user.id,
    });
    rows = await appended(
      sql,
      () => call("POST", `/coupons/${coupon.id}/issue-requests`, { token: user.token }),
    );
    assert.equal(rows.length, 0, "a repeated request publishes nothing");

    const headers = { "idempotency-key": crypto.randomUUID() };
    rows = await appended(
      sql,
      () => call("POST", "/wallet/charges", { token: user.token, body: { amount: 5000 }, headers }),
    );
    assert.equal(rows.length, 1);
    expectEvent(rows[0], "WalletCharged", user.id);
    assert.equal(rows[0].payload.amount, 5000);
    assert.equal(rows[0].payload.balance, 5000);
    assert.equal(rows[0].payload.userId, user.id);
    rows = await appended(
      sql,
      () => call("POST", "/wallet/charges", { token: user.token, body: { amount: 5000 }, headers }),
    );
    assert.equal(rows.length, 0, "a replayed charge publishes nothing");

    let orderId = "";
    const body = { items: [{ productId: product.id, quantity: 2 }] };
    const orderHeaders = { "idempotency-key": crypto.randomUUID() };
    rows = await appended(sql, async () => {
      orderId =
        (await call("POST", "/orders", { token: user.token, body, headers: orderHeaders })).body
          .orderId;
    });
    assert.equal(rows.length, 1);
    expectEvent(rows[0], "OrderCreated", orderId);
    const { deadlineAt, ...created } = rows[0].payload as { deadlineAt: string };
    const [placed] = await sql<{ deadline_at: Date; created_at: Date }[]>`
      select deadline_at, created_at from orders where id = ${orderId}`;
    assert.equal(Date.parse(deadlineAt), placed.deadline_at.getTime(), "the stored deadline");
    const ahead = placed.deadline_at.getTime() - placed.created_at.getTime();
    assert.ok(Math.abs(ahead - 30_000) < 5_000, `deadline ${ahead} ms after creation`);
    assert.deepEqual(created, {
      orderId,
      userId: user.id,
      items: [{ productId: product.id, quantity: 2, unitPrice: 700 }],
      userCouponId: null,
      totalAmount: 1400,
      discountAmount: 0,
      paymentAmount: 1400,
    });
    rows = await appended(
      sql,
      () => call("POST", "/orders", { token: user.token, body, headers: orderHeaders }),
    );
    assert.equal(rows.length, 0, "a replayed order publishes nothing");
  } finally {
    await sql.end();
  }
});

Deno.test(
  "api: a failure after the business insert and before commit leaves no row and no event",
  real,
  async () => {
    const sql = db();
    try {
      const { call } = api();
      const admin = adminToken();
      const user = newUser();
      const product =
        (await call("POST", "/products", { token: admin, body: { name: "F", price: 1, stock: 1 } }))
          .body;
      const coupon = (await call("POST", "/coupons", {
        token: admin,
        body: { name: "F", discount: { type: "fixed", amount: 1 }, totalQuantity: 1 },
      })).body;
      const injected = new Error("injected failure before commit");

      let orderId = "";
      await assert.rejects(
        sql.begin(async (tx) => {
          orderId = (await placeOrder(
            tx,
            user.id,
            { items: [{ productId: product.id, quantity: 1 }] },
            30_000,
          ))
            .orderId;
          assert.equal(
            (await tx`select 1 from orders where id = ${orderId}`).length,
            1,
            "written inside",
          );
          throw injected;
        }),
        injected,
      );
      assert.equal((await sql`select 1 from orders where id = ${orderId}`).length, 0);
      assert.equal((await sql`select 1 from order_items where order_id = ${orderId}`).length, 0);
      assert.equal((await sql`select 1 from outbox where aggregateid = ${orderId}`).length, 0);

      await assert.rejects(
        sql.begin(async (tx) => {
          await requestIssue(tx, coupon.id, user.id);
          throw injected;
        }),
        injected,
      );
      assert.equal((await sql`select 1 from coupon_requests where user_id = ${user.id}`).length, 0);
      assert.equal(
        (await sql`select 1 from outbox where type = 'CouponIssueRequested' and payload->>'userId' = ${user.id}`)
          .length,
        0,
      );

      await assert.rejects(
        sql.begin(async (tx) => {
          await charge(tx, user.id, { amount: 10 }, DEFAULT_MAX_BALANCE);
          throw injected;
        }),
        injected,
      );
      assert.equal((await sql`select 1 from wallets where user_id = ${user.id}`).length, 0);
      assert.equal((await sql`select 1 from wallet_charges where user_id = ${user.id}`).length, 0);
      assert.equal((await sql`select 1 from outbox where aggregateid = ${user.id}`).length, 0);
    } finally {
      await sql.end();
    }
  },
);

Deno.test(
  "api: 20 concurrent POST /orders with one Idempotency-Key create one order, same answer",
  real,
  async () => {
    const sql = db(20);
    try {
      const { call } = api();
      const admin = adminToken();
      const user = newUser();
      const product = (await call("POST", "/products", {
        token: admin,
        body: { name: "G", price: 10, stock: 1 },
      })).body;
      const headers = { "idempotency-key": `order-${crypto.randomUUID()}` };
      const body = { items: [{ productId: product.id, quantity: 1 }] };
      const replies = await Promise.all(
        Array.from(
          { length: 20 },
          () => call("POST", "/orders", { token: user.token, body, headers }),
        ),
      );
      assert.deepEqual(replies.map((r) => r.status), Array(20).fill(202));
      const ids = new Set(replies.map((r) => r.body.orderId));
      assert.equal(ids.size, 1, "every caller got the same order");
      const [orderId] = ids;
      for (const r of replies) {
        assert.deepEqual(r.body, { orderId, status: "PENDING" });
        assert.equal(r.headers.get("location"), `/orders/${orderId}`);
      }
      assert.equal((await sql`select 1 from orders where user_id = ${user.id}`).length, 1);
      assert.equal((await sql`select 1 from outbox where aggregateid = ${orderId}`).length, 1);
    } finally {
      await sql.end();
    }
  },
);

Deno.test(
  "api: 50 concurrent issue requests by one user for one coupon create one request",
  real,
  async () => {
    const sql = db(20);
    try {
      const { call } = api();
      const admin = adminToken();
      const user = newUser();
      const coupon = (await call("POST", "/coupons", {
        token: admin,
        body: { name: "H", discount: { type: "fixed", amount: 1 }, totalQuantity: 10 },
      })).body;
      const replies = await Promise.all(
        Array.from(
          { length: 50 },
          () => call("POST", `/coupons/${coupon.id}/issue-requests`, { token: user.token }),
        ),
      );
      const statuses = replies.map((r) => r.status).sort();
      assert.deepEqual(statuses, [...Array(49).fill(200), 202]);
      assert.equal(new Set(replies.map((r) => r.body.requestId)).size, 1);
      assert.equal((await sql`select 1 from coupon_requests where user_id = ${user.id}`).length, 1);
      assert.equal(
        (await sql`select 1 from outbox where type = 'CouponIssueRequested' and payload->>'userId' = ${user.id}`)
          .length,
        1,
      );
    } finally {
      await sql.end();
    }
  },
);
