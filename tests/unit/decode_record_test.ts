import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { decodeRecord } from "../../src/platform/decode_record.ts";
import type { KafkaMessage } from "../../src/platform/kafka.ts";
import { EVENTS } from "../../src/events/catalog.ts";

const ID = "01938f4a-7b7c-7def-8a12-3456789abcde";
const COUPON = "01938f4a-7b7c-7def-8a12-000000000001";
const payload = { requestId: ID, couponId: COUPON, userId: "alice" };
const handled = { CouponIssueRequested: true };

function msg(headers: Record<string, string>, value: string): KafkaMessage {
  return {
    key: Buffer.from(COUPON),
    value: Buffer.from(value),
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)])),
    offset: "42",
    timestamp: "1700000000000",
    attributes: 0,
  } as KafkaMessage;
}
const good = { id: ID, eventType: "CouponIssueRequested", eventVersion: "1" };

Deno.test("decode: a valid record becomes a typed event", () => {
  const d = decodeRecord(
    "shop.coupon-issue",
    3,
    msg({ ...good, traceparent: "00-a-b-01" }, JSON.stringify(payload)),
    EVENTS,
    handled,
  );
  assert.equal(d.kind, "event");
  if (d.kind !== "event") return;
  assert.deepEqual(d.event, {
    id: ID,
    type: "CouponIssueRequested",
    version: 1,
    key: COUPON,
    payload,
    traceparent: "00-a-b-01",
    topic: "shop.coupon-issue",
    partition: 3,
    offset: "42",
    timestamp: 1700000000000,
  });
});

Deno.test("decode: types this service does not handle are skipped, not poison", () => {
  const d = decodeRecord(
    "t",
    0,
    msg({ ...good, eventType: "CouponIssued" }, "{}"),
    EVENTS,
    handled,
  );
  assert.deepEqual(d, { kind: "skip", type: "CouponIssued" });
});

Deno.test("decode: poison records and why", () => {
  const cases: [Record<string, string>, string, RegExp][] = [
    [
      { eventType: "CouponIssueRequested", eventVersion: "1" },
      JSON.stringify(payload),
      /header 'id'/,
    ],
    [{ ...good, id: "not-a-uuid" }, JSON.stringify(payload), /header 'id'/],
    [{ id: ID, eventVersion: "1" }, JSON.stringify(payload), /header 'eventType' is missing/],
    [{ ...good, eventType: "Nope" }, JSON.stringify(payload), /unknown event type 'Nope'/],
    [{ ...good, eventVersion: "2" }, JSON.stringify(payload), /unsupported version 2/],
    [{ id: ID, eventType: "CouponIssueRequested" }, JSON.stringify(payload), /unsupported version/],
    [good, "{oops", /not JSON/],
    [good, JSON.stringify({ ...payload, couponId: "x" }), /does not match CouponIssueRequested v1/],
  ];
  for (const [headers, value, why] of cases) {
    const d = decodeRecord("t", 0, msg(headers, value), EVENTS, handled);
    assert.equal(d.kind, "poison", JSON.stringify(headers));
    if (d.kind === "poison") assert.match(d.reason, why);
  }
});
