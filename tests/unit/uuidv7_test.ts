import assert from "node:assert/strict";
import { uuidv7, uuidv7Time } from "../../src/platform/uuidv7.ts";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("uuidv7: version and variant bits, timestamp round-trip", () => {
  // Far later than any id another test makes in this process, so the clock is taken as is.
  const at = Date.UTC(2100, 0, 1, 0, 0, 0, 123);
  const id = uuidv7(at);
  assert.match(id, V7);
  assert.equal(uuidv7Time(id), at);
});

Deno.test("uuidv7: strictly increasing within one millisecond and across many", () => {
  const ids = Array.from({ length: 10_000 }, () => uuidv7());
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1] < ids[i], `${ids[i - 1]} < ${ids[i]}`);
  assert.equal(new Set(ids).size, ids.length);
});

Deno.test("uuidv7: a clock that steps back never yields a smaller id", () => {
  const a = uuidv7(Date.now() + 5_000_000);
  const b = uuidv7(Date.now());
  assert.ok(a < b);
});
