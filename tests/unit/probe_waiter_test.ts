/**
 * The probe waiter: waits end at the first successful probe after them, one loop serves every
 * waiter of a dependency, nothing probes while nobody waits, and a hung probe counts as failed.
 * Probes here are functions whose answers the test scripts; time is real and short.
 */
import assert from "node:assert/strict";
import { probeWaiter } from "../../src/platform/probe_waiter.ts";

const never = () => new Promise<never>(() => {});

Deno.test("probe waiter: waiters resume at the first probe that answers, all together", async () => {
  let calls = 0;
  let up = false;
  const waiter = probeWaiter({
    database: () => {
      calls++;
      return up ? Promise.resolve() : Promise.reject(new Error("ECONNREFUSED"));
    },
    kafka: never,
  }, { intervalMs: 10 });
  try {
    let resumed = 0;
    const waits = [waiter.until("database"), waiter.until("database")].map((w) =>
      w.then(() => resumed++)
    );
    const deadline = Date.now() + 2000;
    while (calls < 3) {
      assert.ok(Date.now() < deadline, "probed repeatedly while down");
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(resumed, 0, "nobody resumes while the probe fails");
    assert.deepEqual(waiter.waiting(), { database: 2, kafka: 0 });
    up = true;
    await Promise.all(waits);
    assert.equal(resumed, 2);
    assert.deepEqual(waiter.waiting(), { database: 0, kafka: 0 });
    const after = calls;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(calls, after, "no probes while nobody waits");
  } finally {
    waiter.stop();
  }
});

Deno.test("probe waiter: a probe that hangs counts as failed, and the next one is tried", async () => {
  let calls = 0;
  const failures: string[] = [];
  const waiter = probeWaiter({
    database: never,
    kafka: () => ++calls === 1 ? never() : Promise.resolve(),
  }, {
    intervalMs: 10,
    timeoutMs: 30,
    onFailure: (dependency, error) => failures.push(`${dependency}: ${(error as Error).message}`),
  });
  try {
    await waiter.until("kafka");
    assert.equal(calls, 2);
    assert.deepEqual(failures, ["kafka: probe timed out after 30 ms"]);
  } finally {
    waiter.stop();
  }
});

Deno.test("probe waiter: stop releases every waiter", async () => {
  const waiter = probeWaiter({ database: never, kafka: never }, { intervalMs: 10, timeoutMs: 20 });
  const wait = waiter.until("database");
  waiter.stop();
  await wait;
  await waiter.until("kafka"); // after stop: at once
});
