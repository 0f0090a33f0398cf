/**
 * The two lag numbers the alerts read that no worker can report itself: the replication slot's
 * lag in seconds (`WalClock`, from samples of the WAL's end) and each group's lag from Kafka
 * (`consumer_group_lag`, present while the group's workers are down).
 */
import assert from "node:assert/strict";
import { WalClock } from "../../src/platform/slot_metrics.ts";
import { readGroupLag, watchGroupLag } from "../../src/ops/group_lag_metrics.ts";
import type { Admin } from "../../src/platform/kafka.ts";
import { registry } from "../../src/platform/metrics.ts";

Deno.test("WalClock: a caught-up slot is 0 s behind, whatever the WAL did before", () => {
  const clock = new WalClock();
  assert.deepEqual(clock.observe(0, 100, { s: 100 }), { s: 0 });
  assert.deepEqual(clock.observe(5_000, 400, { s: 400 }), { s: 0 });
});

Deno.test("WalClock: the lag is the age of the first sample past the confirmed position", () => {
  const clock = new WalClock();
  clock.observe(0, 100, { s: 100 });
  // The WAL moves on and the slot stays at 100 (relay stopped).
  assert.deepEqual(clock.observe(5_000, 200, { s: 100 }), { s: 0 });
  assert.deepEqual(clock.observe(10_000, 300, { s: 100 }), { s: 5 });
  assert.deepEqual(clock.observe(60_000, 300, { s: 100 }), { s: 55 });
  // The relay confirms up to 250: the first sample past it is the one at 10 s.
  assert.deepEqual(clock.observe(61_000, 350, { s: 250 }), { s: 51 });
  // And everything: 0 again.
  assert.deepEqual(clock.observe(62_000, 350, { s: 350 }), { s: 0 });
});

Deno.test("WalClock: slots are aged apart, and old samples are bounded", () => {
  const clock = new WalClock({ maxSamples: 2 });
  clock.observe(0, 100, { a: 100, b: 100 });
  clock.observe(1_000, 200, { a: 100, b: 200 });
  clock.observe(2_000, 300, { a: 100, b: 200 });
  // At most 2 samples: the one at 1 s went, so slot a's lag errs low (from 2 s, not 1 s); b is at
  // 300, which the WAL passed only by the sample at 3 s.
  assert.deepEqual(clock.observe(3_000, 400, { a: 100, b: 300 }), { a: 1, b: 0 });
  assert.deepEqual(clock.observe(4_000, 400, { a: 100, b: 300 }), { a: 2, b: 1 });
  assert.throws(() => new WalClock({ maxSamples: 0 }), /'maxSamples' must be a positive integer/);
});

/** An admin answering watermarks and committed offsets from tables; `fail` makes it throw. */
function fakeAdmin(
  high: Record<string, number[]>,
  committed: Record<string, Record<string, number[]>>,
) {
  const state = { fail: false, connects: 0 };
  const admin = {
    connect: () => {
      state.connects++;
      return Promise.resolve();
    },
    fetchTopicOffsets: (topic: string) => {
      if (state.fail) return Promise.reject(new Error("broker unreachable"));
      return Promise.resolve(
        high[topic].map((h, partition) => ({ partition, high: String(h), low: "0" })),
      );
    },
    fetchOffsets: ({ groupId, topics }: { groupId: string; topics: string[] }) =>
      Promise.resolve(topics.map((topic) => ({
        topic,
        partitions: (committed[groupId]?.[topic] ?? high[topic].map(() => -1)).map((
          offset,
          partition,
        ) => ({ partition, offset: String(offset) })),
      }))),
  };
  return { admin: admin as unknown as Admin, state };
}

Deno.test("readGroupLag: sums each group's partitions; nothing committed counts from the start", async () => {
  const { admin } = fakeAdmin(
    { orders: [10, 20], payments: [5] },
    { payment: { orders: [10, 15] }, saga: { payments: [2] } },
  );
  assert.deepEqual(
    await readGroupLag(admin, [
      { group: "payment", topics: ["orders"] },
      { group: "saga", topics: ["payments", "orders"] },
      { group: "fresh", topics: ["orders"] },
    ]),
    // saga: 3 on payments, and 30 on orders where it committed nothing.
    { payment: 5, saga: 33, fresh: 30 },
  );
});

Deno.test("watchGroupLag: serves consumer_group_lag per group, and no series while Kafka fails", async () => {
  const { admin, state } = fakeAdmin({ orders: [7] }, { payment: { orders: [3] } });
  const served = async () =>
    (await registry.getSingleMetric("consumer_group_lag")!.get()).values.map((v) => ({
      group: v.labels.group,
      value: v.value,
    }));
  const first = watchGroupLag(admin, [{ group: "payment", topics: ["orders"] }], {
    intervalMs: 60_000,
  });
  await first.firstRound;
  first.stop();
  assert.deepEqual(await served(), [{ group: "payment", value: 4 }]);

  state.fail = true;
  const second = watchGroupLag(admin, [{ group: "payment", topics: ["orders"] }], {
    intervalMs: 60_000,
  });
  await second.firstRound;
  second.stop();
  assert.deepEqual(await served(), [], "an unknown lag is no series, not the last number");
  assert.equal(state.connects, 2);
});
