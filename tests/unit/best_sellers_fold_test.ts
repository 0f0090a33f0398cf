/**
 * The best-sellers projection's fold (src/best_sellers/projection.ts): an order counts once, at
 * its confirmation's hour, whichever of its events comes first; a cancelled one never counts.
 */
import assert from "node:assert/strict";
import { foldOrderEvents, hourOf } from "../../src/best_sellers/projection.ts";

const P1 = "0190a0a0-0000-7000-8000-000000000001";
const P2 = "0190a0a0-0000-7000-8000-000000000002";
const O1 = "0190a0a0-0000-7000-8000-0000000000a1";
const H = Date.UTC(2026, 11, 6, 7); // an hour's start
let offset = 0;

// deno-lint-ignore no-explicit-any
function event(type: string, payload: Record<string, unknown>, timestamp: number): any {
  return {
    id: crypto.randomUUID(),
    type,
    version: 1,
    key: payload.orderId,
    payload,
    topic: "shop.order",
    partition: 0,
    offset: String(offset++),
    timestamp,
  };
}
const created = (at: number, items = [{ productId: P1, quantity: 2, unitPrice: 1 }]) =>
  event("OrderCreated", { orderId: O1, userId: "u", items, userCouponId: null }, at);
const confirmed = (at: number) => event("OrderConfirmed", { orderId: O1, userId: "u" }, at);
const cancelled = (at: number) =>
  event("OrderCancelled", { orderId: O1, userId: "u", reason: "TIMEOUT" }, at);
const hour = (ms: number) => new Date(hourOf(ms)).toISOString();

Deno.test("best sellers fold: created then confirmed counts at the confirmation's hour", () => {
  const pending = new Map();
  const items = [
    { productId: P1, quantity: 2, unitPrice: 1 },
    { productId: P2, quantity: 5, unitPrice: 1 },
  ];
  // Placed in one hour, confirmed in the next: the confirmation's hour counts.
  const units = foldOrderEvents(pending, [
    created(H - 1000, items),
    confirmed(H + 10),
  ]);
  assert.deepEqual(Object.fromEntries(units), { [`${P1} ${hour(H)}`]: 2, [`${P2} ${hour(H)}`]: 5 });
  assert.equal(pending.get(O1).done, true);
});

Deno.test("best sellers fold: confirmed first (a replayed OrderCreated) counts once too", () => {
  const pending = new Map();
  assert.equal(foldOrderEvents(pending, [confirmed(H + 5)]).size, 0);
  assert.equal(pending.get(O1).done, false, "waits for its lines");
  // A later run: the row read back, then the lines arrive.
  const units = foldOrderEvents(pending, [created(H + 3_600_000)]);
  assert.deepEqual(Object.fromEntries(units), { [`${P1} ${hour(H)}`]: 2 });
  assert.equal(foldOrderEvents(pending, [confirmed(H + 6)]).size, 0, "counted already");
});

Deno.test("best sellers fold: a cancelled order never counts, in either order", () => {
  for (const events of [[created(H), cancelled(H + 1)], [cancelled(H + 1), created(H)]]) {
    const pending = new Map();
    assert.equal(foldOrderEvents(pending, events).size, 0);
    assert.equal(pending.get(O1).done, true);
  }
  // A cancellation alone waits (its lines may come later), and counts nothing.
  const pending = new Map();
  assert.equal(foldOrderEvents(pending, [cancelled(H)]).size, 0);
  assert.equal(pending.get(O1).cancelled, true);
  assert.equal(pending.get(O1).done, false);
});

Deno.test("best sellers fold: lines without a decision wait", () => {
  const pending = new Map();
  assert.equal(foldOrderEvents(pending, [created(H)]).size, 0);
  assert.deepEqual(pending.get(O1).items, [{ productId: P1, quantity: 2 }]);
  assert.equal(pending.get(O1).seenAt, H);
});
