/**
 * The order saga end to end: API -> outbox -> Debezium -> Kafka -> inventory, coupon-redeemer,
 * payment -> order-saga, with compensations. One system (workers) for the whole file's tests.
 */
import assert from "node:assert/strict";
import { real } from "../helpers/stack.ts";
import { type System, system } from "../helpers/system.ts";
import { assertInvariants } from "../helpers/invariants.ts";

async function place(
  sys: System,
  token: string,
  items: { productId: string; quantity: number }[],
  userCouponId?: string,
) {
  const r = await sys.call("POST", "/orders", {
    token,
    body: { items, ...(userCouponId ? { userCouponId } : {}) },
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.orderId as string;
}

const stock = async (sys: System, id: string) =>
  (await sys.sql`select stock from products where id = ${id}`)[0].stock as number;
const balance = async (sys: System, token: string) =>
  (await sys.call("GET", "/wallet", { token })).body.balance as number;
const userCoupon = async (sys: System, token: string, id: string) =>
  (await sys.call("GET", "/users/me/coupons", { token })).body.items.find(
    (c: { userCouponId: string }) => c.userCouponId === id,
  );

Deno.test(
  "e2e orders: happy path, each failure reason with compensations, 30 orders for 10 units",
  real,
  async (t) => {
    const sys = await system();
    try {
      const couponId = await sys.coupon({
        name: "500 off",
        discount: { type: "fixed", amount: 500 },
        totalQuantity: 100,
      });

      await t.step("happy path: CONFIRMED; stock, wallet and coupon updated", async () => {
        const product = await sys.product(1000, 10);
        const user = await sys.user(10_000);
        const uc = await sys.grantCoupon(couponId, user);
        const orderId = await place(sys, user.token, [{ productId: product, quantity: 2 }], uc);
        const order = await sys.settledOrder(user.token, orderId);
        assert.equal(order.status, "CONFIRMED");
        assert.equal(order.totalAmount, 2000);
        assert.equal(order.discountAmount, 500);
        assert.equal(order.paymentAmount, 1500);
        assert.equal(order.cancelReason, undefined);
        assert.equal(await stock(sys, product), 8);
        assert.equal(await balance(sys, user.token), 8500);
        const c = await userCoupon(sys, user.token, uc);
        assert.equal(c.status, "USED");
        assert.equal(c.orderId, orderId);
        assert.ok(c.usedAt);
      });

      await t.step("OUT_OF_STOCK: CANCELLED; coupon restored, payment refunded", async () => {
        const product = await sys.product(1000, 1);
        const user = await sys.user(10_000);
        const uc = await sys.grantCoupon(couponId, user);
        const orderId = await place(sys, user.token, [{ productId: product, quantity: 2 }], uc);
        const order = await sys.settledOrder(user.token, orderId);
        assert.equal(order.status, "CANCELLED");
        assert.equal(order.cancelReason, "OUT_OF_STOCK");
        await assertInvariants(sys.sql, sys.scope); // waits for the compensations
        assert.equal(await stock(sys, product), 1);
        assert.equal(await balance(sys, user.token), 10_000);
        assert.equal((await userCoupon(sys, user.token, uc)).status, "AVAILABLE");
      });

      await t.step(
        "COUPON_UNAVAILABLE: a used coupon; stock released, payment refunded",
        async () => {
          const product = await sys.product(1000, 10);
          const user = await sys.user(10_000);
          const uc = await sys.grantCoupon(couponId, user);
          const first = await place(sys, user.token, [{ productId: product, quantity: 1 }], uc);
          assert.equal((await sys.settledOrder(user.token, first)).status, "CONFIRMED");
          const second = await place(sys, user.token, [{ productId: product, quantity: 1 }], uc);
          const order = await sys.settledOrder(user.token, second);
          assert.equal(order.status, "CANCELLED");
          assert.equal(order.cancelReason, "COUPON_UNAVAILABLE");
          await assertInvariants(sys.sql, sys.scope);
          assert.equal(await stock(sys, product), 9);
          assert.equal(await balance(sys, user.token), 10_000 - 500);
          const c = await userCoupon(sys, user.token, uc);
          assert.equal(c.status, "USED");
          assert.equal(c.orderId, first, "still the first order's");
        },
      );

      await t.step("INSUFFICIENT_BALANCE: stock released, coupon restored", async () => {
        const product = await sys.product(5000, 10);
        const user = await sys.user(100);
        const uc = await sys.grantCoupon(couponId, user);
        const orderId = await place(sys, user.token, [{ productId: product, quantity: 1 }], uc);
        const order = await sys.settledOrder(user.token, orderId);
        assert.equal(order.status, "CANCELLED");
        assert.equal(order.cancelReason, "INSUFFICIENT_BALANCE");
        await assertInvariants(sys.sql, sys.scope);
        assert.equal(await stock(sys, product), 10);
        assert.equal(await balance(sys, user.token), 100);
        assert.equal((await userCoupon(sys, user.token, uc)).status, "AVAILABLE");
      });

      await t.step(
        "a free order (coupon covers all) is CONFIRMED with nothing to pay",
        async () => {
          const product = await sys.product(300, 5);
          const user = await sys.user(0);
          const uc = await sys.grantCoupon(couponId, user);
          const orderId = await place(sys, user.token, [{ productId: product, quantity: 1 }], uc);
          const order = await sys.settledOrder(user.token, orderId);
          assert.equal(order.status, "CONFIRMED");
          assert.equal(order.paymentAmount, 0);
          assert.equal(await balance(sys, user.token), 0);
        },
      );

      await t.step(
        "stock of 10, 30 concurrent single-unit orders: exactly 10 CONFIRMED",
        async () => {
          const product = await sys.product(100, 10);
          const users = await Promise.all(Array.from({ length: 30 }, () => sys.user(1000)));
          const placed = await Promise.all(
            users.map(async (u) => ({
              u,
              id: await place(sys, u.token, [{ productId: product, quantity: 1 }]),
            })),
          );
          const orders = await Promise.all(
            placed.map(({ u, id }) => sys.settledOrder(u.token, id)),
          );
          const confirmed = orders.filter((o) => o.status === "CONFIRMED");
          assert.equal(confirmed.length, 10);
          assert.ok(
            orders.filter((o) => o.status === "CANCELLED").every((o) =>
              o.cancelReason === "OUT_OF_STOCK"
            ),
          );
          await assertInvariants(sys.sql, sys.scope);
          assert.equal(await stock(sys, product), 0);
        },
      );

      await assertInvariants(sys.sql, sys.scope);
    } finally {
      await sys.close();
    }
  },
);
