import assert from "node:assert/strict";

type Uuidv7Module = typeof import("../../src/platform/uuidv7.ts");

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * A generator with a clock of its own. The module keeps its last millisecond in module state and
 * never goes back (that is its contract), so a test that passes a far-future `now` would stamp every
 * later id in the process with that time. Importing the module under a distinct specifier gives each
 * test a fresh instance: no test sees another's clock and the order the tests run in does not matter.
 */
let instances = 0;
async function freshGenerator(): Promise<Uuidv7Module> {
  return await import(`../../src/platform/uuidv7.ts?instance=${++instances}`);
}

Deno.test("uuidv7: version and variant bits, timestamp round-trip", async () => {
  const { uuidv7, uuidv7Time } = await freshGenerator();
  const at = Date.UTC(2100, 0, 1, 0, 0, 0, 123);
  const id = uuidv7(at);
  assert.match(id, V7);
  assert.equal(uuidv7Time(id), at);
});

Deno.test("uuidv7: ids on the real clock carry the time they were made", async () => {
  const { uuidv7, uuidv7Time } = await freshGenerator();
  for (let i = 0; i < 1_000; i++) {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    assert.match(id, V7);
    // 1,000 ids cannot exhaust the 4,096-id counter of a millisecond, so none is borrowed from the
    // future: the stamp is the clock's reading between the two around it.
    const t = uuidv7Time(id);
    assert.ok(before <= t && t <= after, `${t} in [${before}, ${after}] (${id})`);
  }
});

Deno.test("uuidv7: strictly increasing within one millisecond and across many", async () => {
  const { uuidv7, uuidv7Time } = await freshGenerator();
  const start = Date.now();
  const ids = Array.from({ length: 10_000 }, () => uuidv7());
  const end = Date.now();
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1] < ids[i], `${ids[i - 1]} < ${ids[i]}`);
  assert.equal(new Set(ids).size, ids.length);
  // More than 4,096 in one millisecond borrow the next ones, so allow a few seconds' drift ahead.
  for (const id of [ids[0], ids[ids.length - 1]]) {
    const t = uuidv7Time(id);
    assert.ok(start <= t && t <= end + 3_000, `${t} in [${start}, ${end} + 3 s] (${id})`);
  }
});

Deno.test("uuidv7: a clock that steps back never yields a smaller id", async () => {
  const { uuidv7, uuidv7Time } = await freshGenerator();
  const ahead = Date.now() + 5_000_000;
  const a = uuidv7(ahead);
  const b = uuidv7(Date.now());
  assert.ok(a < b);
  // The later id keeps the earlier stamp (the counter moves instead of the clock going back).
  assert.equal(uuidv7Time(b), ahead);
});

Deno.test("uuidv7: each test's generator starts from its own clock", async () => {
  // A far-future stamp on one instance leaves another instance on the real clock.
  const first = await freshGenerator();
  first.uuidv7(Date.UTC(2100, 0, 1));
  const second = await freshGenerator();
  const t = second.uuidv7Time(second.uuidv7());
  assert.ok(Math.abs(t - Date.now()) < 3_000, `${new Date(t).toISOString()} is now`);
});
