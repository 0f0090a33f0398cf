import assert from "node:assert/strict";
import { fromRow } from "../../src/platform/db.ts";

Deno.test("fromRow: camelCase names, ISO timestamps, null columns left out unless nullable", () => {
  const at = new Date("2026-01-02T03:04:05.678Z");
  const row = {
    order_id: "o1",
    user_coupon_id: null,
    expires_at: null,
    created_at: at,
    items: [{ product_id: "kept as stored" }],
    total_amount: 0,
  };
  const out = fromRow<Record<string, unknown>>(row, ["expiresAt"]);
  assert.deepEqual(out, {
    orderId: "o1",
    expiresAt: null,
    createdAt: "2026-01-02T03:04:05.678Z",
    items: [{ product_id: "kept as stored" }],
    totalAmount: 0,
  });
  // The same key order as the columns, so a body reads like its SELECT.
  assert.deepEqual(Object.keys(out), ["orderId", "expiresAt", "createdAt", "items", "totalAmount"]);
});
