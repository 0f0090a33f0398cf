import assert from "node:assert/strict";
import { failedTrace, restartSchedule } from "../../relay/restart.ts";

Deno.test("relay restart: at once, then after 10, 20, 40 s ... up to the cap while it keeps failing", () => {
  const s = restartSchedule({ firstMs: 10_000, maxMs: 40_000, resetAfterMs: 600_000 });
  const restartedAt: number[] = [];
  // Failed every second for 3 minutes.
  for (let t = 0; t <= 180_000; t += 1000) if (s.due(true, t)) restartedAt.push(t);
  assert.deepEqual(restartedAt, [0, 10_000, 30_000, 70_000, 110_000, 150_000]);
});

Deno.test("relay restart: running long enough after a restart starts the doubling over", () => {
  const s = restartSchedule({ firstMs: 10_000, maxMs: 300_000, resetAfterMs: 60_000 });
  assert.equal(s.due(true, 0), true);
  assert.equal(s.due(true, 5_000), false, "within the first wait");
  assert.equal(s.due(false, 6_000), false, "running: nothing to restart");
  // Failed again after 30 s of running: less than resetAfterMs, so the wait (10 s) holds.
  assert.equal(s.due(true, 36_000), true);
  assert.equal(s.due(true, 46_000), false, "the next wait is 20 s");
  assert.equal(s.due(true, 56_000), true);
  // Running for 60 s clears it: the next failure restarts at once, the one after 10 s later.
  for (let t = 57_000; t <= 117_000; t += 1000) assert.equal(s.due(false, t), false);
  assert.equal(s.due(true, 118_000), true);
  assert.equal(s.due(true, 120_000), false);
  assert.equal(s.due(true, 128_000), true);
});

Deno.test("relay restart: the connector's trace, else the first FAILED task's, else nothing", () => {
  const status = (connector: string, ...tasks: string[]) => ({
    name: "shop-outbox",
    connector: { state: connector, trace: `${connector} trace` },
    tasks: tasks.map((state, id) => ({ id, state, trace: `task ${id} ${state}` })),
  });
  assert.equal(failedTrace(status("RUNNING", "RUNNING")), undefined);
  assert.equal(failedTrace(undefined), undefined);
  assert.equal(failedTrace(status("RUNNING", "RUNNING", "FAILED")), "task 1 FAILED");
  assert.equal(failedTrace(status("FAILED", "FAILED")), "FAILED trace");
  assert.equal(failedTrace(status("RUNNING", "PAUSED")), undefined);
});
