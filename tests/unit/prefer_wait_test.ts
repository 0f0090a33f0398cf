/**
 * `Prefer: wait` parsing (RFC 7240: lenient, first `wait` wins, clamped to 30 s) and the waiters'
 * registry: a wake between registration and wait is kept, cancel unregisters.
 */
import assert from "node:assert/strict";
import { MAX_WAIT_S, preferredWait } from "../../src/platform/http/prefer_wait.ts";
import { Waiters } from "../../src/platform/waiters.ts";

Deno.test("preferredWait: delta-seconds, clamped, first wins, anything else ignored", () => {
  const cases: [string | undefined, number | undefined][] = [
    [undefined, undefined],
    ["", undefined],
    ["wait=10", 10],
    ["wait=0", 0],
    ["WAIT = 7", 7],
    ['wait="12"', 12],
    ["respond-async, wait=5", 5],
    ["handling=lenient;x=1, wait=5;foo", 5],
    ['return=minimal; note="a, wait=3", wait=9', 9],
    ["wait=31", MAX_WAIT_S],
    ["wait=99999999999999999999999", MAX_WAIT_S],
    ["wait=4, wait=8", 4],
    ["wait=abc, wait=8", undefined],
    ["wait=-1", undefined],
    ["wait=1.5", undefined],
    ["wait=", undefined],
    ["wait", undefined],
    ["waiting=3", undefined],
    ["respond-async", undefined],
  ];
  for (const [header, expected] of cases) {
    assert.equal(preferredWait(header), expected, String(header));
  }
});

Deno.test("waiters: a wake before wait() is kept; others and the timeout are apart", async () => {
  const waiters = new Waiters();
  const a = waiters.register("a");
  const b = waiters.register("b");
  assert.equal(waiters.size, 2);
  assert.equal(waiters.waiting, 0, "registered, still reading: not waiting yet");
  waiters.wake("a"); // during the read, before the wait
  assert.equal(await a.wait(10_000), "woken");
  const timedOut = b.wait(1);
  assert.equal(waiters.waiting, 1);
  assert.equal(await timedOut, "timeout");
  assert.equal(waiters.waiting, 0);
  assert.equal(waiters.size, 0, "both unregistered");
});

Deno.test("waiters: abort, cancel and wakeAll", async () => {
  const waiters = new Waiters();
  const controller = new AbortController();
  const a = waiters.register("x");
  const pending = a.wait(10_000, controller.signal);
  controller.abort();
  assert.equal(await pending, "aborted");
  const c = waiters.register("y");
  c.cancel();
  assert.equal(waiters.size, 0);
  waiters.wake("y"); // nobody
  const d = waiters.register("z");
  const e = waiters.register("z");
  waiters.wakeAll();
  assert.deepEqual(await Promise.all([d.wait(10_000), e.wait(10_000)]), ["woken", "woken"]);
  assert.equal(waiters.size, 0);
});
