import assert from "node:assert/strict";
import type { Attempt } from "./load_driver.ts";
import { type Decision, stall } from "./stall.ts";

const decided = (decidedAt: number, timedOut = false): Decision => ({ decidedAt, timedOut });

Deno.test("the stall is the worst wait, not the first decision: one stalled partition shows", () => {
  const attempts: Attempt[] = [
    { kind: "order", at: 1000, id: "a" }, // a partition that kept going
    { kind: "order", at: 1100, id: "b" }, // the killed broker's partition
    { kind: "order", at: 1200, id: "c" },
  ];
  const decisions = new Map([["a", decided(1300)], ["b", decided(7100)], ["c", decided(1500)]]);
  const s = stall(attempts, decisions, 1000, 6000);
  assert.equal(s.worstMs, 6000);
  assert.equal(s.medianMs, 300);
  assert.equal(s.firstMs, 300); // what the former "recovery" read
  assert.deepEqual([s.placed, s.refused, s.timedOut], [3, 0, 0]);
});

Deno.test("the stall counts from the mix's schedule; work outside the window is not in it", () => {
  const attempts: Attempt[] = [
    { kind: "order", at: 900, id: "before" },
    { kind: "charge", at: 1000, doneAt: 1400 },
    { kind: "order", at: 6000, id: "after" },
  ];
  const decisions = new Map([["before", decided(9000)], ["after", decided(20_000)]]);
  const s = stall(attempts, decisions, 1000, 6000);
  assert.equal(s.worstMs, 400);
  assert.equal(s.placed, 1);
});

Deno.test("a timeout or no decision makes the stall '> deadline', never a small number", () => {
  const attempts: Attempt[] = [
    { kind: "order", at: 1000, id: "t" },
    { kind: "request", at: 1100, id: "p" },
    { kind: "order", at: 1200, id: "ok" },
  ];
  const decisions = new Map([["t", decided(9000, true)], ["p", { timedOut: false }], [
    "ok",
    decided(1300),
  ]]);
  const s = stall(attempts, decisions, 1000, 6000);
  assert.equal(s.timedOut, 2);
  assert.equal(s.worstMs, 100);
});

Deno.test("a refused request waits for the next accepted one of its kind", () => {
  const attempts: Attempt[] = [
    { kind: "order", at: 1000 }, // the API was down
    { kind: "charge", at: 1500, doneAt: 1600 }, // another kind: not what the user waits for
    { kind: "order", at: 2000 },
    { kind: "order", at: 4000, id: "x" },
  ];
  const s = stall(attempts, new Map([["x", decided(4500)]]), 1000, 6000);
  assert.equal(s.refused, 2);
  assert.equal(s.worstMs, 3500);
  const none = stall(attempts.slice(0, 1), new Map(), 1000, 6000);
  assert.equal(none.timedOut, 1);
});
