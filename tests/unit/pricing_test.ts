import assert from "node:assert/strict";
import { priceOrder } from "../../src/orders/pricing.ts";

const lines = [{ quantity: 3, unitPrice: 2501 }, { quantity: 2, unitPrice: 999 }]; // 9501

Deno.test("pricing: no coupon", () => {
  assert.deepEqual(priceOrder(lines, undefined), {
    totalAmount: 9501,
    discountAmount: 0,
    paymentAmount: 9501,
  });
});

Deno.test("pricing: fixed amount, capped at the total", () => {
  assert.deepEqual(priceOrder(lines, { type: "fixed", amount: 3000 }), {
    totalAmount: 9501,
    discountAmount: 3000,
    paymentAmount: 6501,
  });
  assert.deepEqual(priceOrder(lines, { type: "fixed", amount: 20_000 }), {
    totalAmount: 9501,
    discountAmount: 9501,
    paymentAmount: 0,
  });
});

Deno.test("pricing: percent of the total, rounded down", () => {
  assert.deepEqual(priceOrder(lines, { type: "percent", percent: 15 }), {
    totalAmount: 9501,
    discountAmount: 1425, // 1425.15
    paymentAmount: 8076,
  });
  assert.equal(priceOrder(lines, { type: "percent", percent: 100 }).paymentAmount, 0);
});

Deno.test("pricing: exact for the largest orders (100 lines x 1000 x 1e9, 99%)", () => {
  const big = Array.from({ length: 100 }, () => ({ quantity: 1000, unitPrice: 1_000_000_000 }));
  const r = priceOrder(big, { type: "percent", percent: 99 });
  assert.equal(r.totalAmount, 1e14);
  assert.equal(r.discountAmount, 99e12);
  assert.equal(r.paymentAmount, 1e12);
});
