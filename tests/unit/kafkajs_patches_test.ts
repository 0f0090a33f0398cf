/**
 * The patches of the vendored kafkajs (vendor/kafkajs/PATCHES.md), offline, at the level of its
 * modules: the OffsetCommit v7 request's bytes against the protocol's layout written out by hand,
 * the version `lookup` picks, and the offset manager's coordinator re-discovery with a stand-in
 * cluster (a dead or moved coordinator needs several brokers, which the local stack has not).
 * The static-membership behaviour against the real broker: tests/integration/
 * kafka_static_membership_test.ts.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";

const require = createRequire(new URL("../../vendor/kafkajs/src/", import.meta.url));

type Encodable = { apiKey: number; apiVersion: number; encode(): Promise<{ buffer: Buffer }> };
type RequestFn = (args: Record<string, unknown>) => Encodable;

const v7 = require("./protocol/requests/offsetCommit/v7/request.js") as RequestFn;
const apiKeys = require("./protocol/requests/apiKeys.js") as Record<string, number>;
const { lookup, requests } = require("./protocol/requests/index.js") as {
  lookup: (
    versions: Record<number, { minVersion: number; maxVersion: number }>,
  ) => (apiKey: number, definition: unknown) => (args: Record<string, unknown>) => {
    request: Encodable;
  };
  requests: Record<string, unknown>;
};
const { isRebalancing } = require("./errors.js") as { isRebalancing: (e: unknown) => boolean };
const OffsetManager = require("./consumer/offsetManager/index.js") as new (
  options: Record<string, unknown>,
) => {
  getCoordinator(): Promise<unknown>;
  commitOffsets(offsets: { topics: unknown[] }): Promise<void>;
};

/** The Kafka protocol's primitive encodings, written independently of kafkajs' Encoder. */
const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const int64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
};
const str = (s: string | null) =>
  s === null ? int16(-1) : Buffer.concat([int16(Buffer.byteLength(s)), Buffer.from(s)]);

const commit = {
  groupId: "orders",
  groupGenerationId: 7,
  memberId: "orders-0-3f1c",
  topics: [{ topic: "shop.orders", partitions: [{ partition: 2, offset: "1234567890123" }] }],
};

Deno.test("OffsetCommit v7 request: group_instance_id after member_id, leader epoch -1", async () => {
  const request = v7({ ...commit, groupInstanceId: "orders-0" });
  assert.equal(request.apiKey, 8);
  assert.equal(request.apiVersion, 7);
  const expected = Buffer.concat([
    str("orders"), // group_id
    int32(7), // generation_id
    str("orders-0-3f1c"), // member_id
    str("orders-0"), // group_instance_id
    int32(1), // topics: 1
    str("shop.orders"),
    int32(1), // partitions: 1
    int32(2), // partition_index
    int64(1234567890123n), // committed_offset
    int32(-1), // committed_leader_epoch: unknown
    str(null), // committed_metadata
  ]);
  assert.deepEqual((await request.encode()).buffer, expected);
});

Deno.test("OffsetCommit v7 request: a dynamic member sends a null group_instance_id", async () => {
  const bytes = (await v7(commit).encode()).buffer;
  const afterMember = 2 + 6 + 4 + 2 + "orders-0-3f1c".length;
  assert.deepEqual(bytes.subarray(afterMember, afterMember + 2), int16(-1));
});

Deno.test("OffsetCommit: the highest version both sides support, v7 on Kafka 4.3", () => {
  const pick = (maxVersion: number) =>
    lookup({ [apiKeys.OffsetCommit]: { minVersion: 2, maxVersion } })(
      apiKeys.OffsetCommit,
      requests.OffsetCommit,
    )(commit).request.apiVersion;
  assert.equal(pick(10), 7); // Kafka 4.3 accepts 2-10
  assert.equal(pick(6), 6);
  assert.equal(pick(5), 5);
});

Deno.test("GROUP_LOAD_IN_PROGRESS counts as a rebalance (rejoin, not crash)", () => {
  assert.equal(isRebalancing({ type: "GROUP_LOAD_IN_PROGRESS" }), true);
  assert.equal(isRebalancing({ type: "FENCED_INSTANCE_ID" }), false);
});

/** A broker stand-in that records the commits it receives and answers with `error`, if any. */
function broker(nodeId: number, connected: boolean, error?: { type: string }) {
  const commits: unknown[] = [];
  return {
    nodeId,
    commits,
    isConnected: () => connected,
    offsetCommit: (payload: unknown) => {
      commits.push(payload);
      return error
        ? Promise.reject(Object.assign(new Error(error.type), error))
        : Promise.resolve();
    },
  };
}

/** A cluster stand-in: the group's coordinator is `current`; lookups are recorded. */
function cluster(current: ReturnType<typeof broker>) {
  const calls: string[] = [];
  return {
    calls,
    current,
    findGroupCoordinator({ groupId }: { groupId: string }) {
      calls.push(`findGroupCoordinator ${groupId}`);
      return Promise.resolve(this.current);
    },
    findBroker({ nodeId }: { nodeId: number }) {
      calls.push(`findBroker ${nodeId}`);
      return Promise.reject(new Error(`Broker ${nodeId} not found in the cached metadata`));
    },
    refreshMetadata() {
      calls.push("refreshMetadata");
      return Promise.resolve();
    },
    committedOffsets: () => ({}),
  };
}

const manager = (c: ReturnType<typeof cluster>, coordinator: ReturnType<typeof broker>) =>
  new OffsetManager({
    cluster: c,
    coordinator,
    memberAssignment: { "shop.orders": [2] },
    autoCommit: false,
    topicConfigurations: {},
    instrumentationEmitter: { emit: () => {} },
    groupId: "orders",
    generationId: 7,
    memberId: "orders-0-3f1c",
    groupInstanceId: "orders-0",
  });

Deno.test("offset manager: a disconnected coordinator is re-discovered, not looked up by id", async () => {
  const dead = broker(1, false);
  const successor = broker(2, true);
  const c = cluster(successor);
  const m = manager(c, dead);
  assert.equal(await m.getCoordinator(), successor);
  assert.deepEqual(c.calls, ["findGroupCoordinator orders"]);

  await m.commitOffsets({
    topics: [{ topic: "shop.orders", partitions: [{ partition: 2, offset: "5" }] }],
  });
  assert.equal(dead.commits.length, 0);
  assert.equal(successor.commits.length, 1);
  // The commit carries the static member's instance id (OffsetCommit v7).
  assert.equal((successor.commits[0] as { groupInstanceId: string }).groupInstanceId, "orders-0");
});

Deno.test("offset manager: after NOT_COORDINATOR_FOR_GROUP the retry goes to the new coordinator", async () => {
  const moved = broker(1, true, { type: "NOT_COORDINATOR_FOR_GROUP" });
  const successor = broker(2, true);
  const c = cluster(successor);
  const m = manager(c, moved);
  const topics = [{ topic: "shop.orders", partitions: [{ partition: 2, offset: "5" }] }];
  // The error still reaches the caller (kafkajs' runner retries it, the group rejoins)...
  await assert.rejects(m.commitOffsets({ topics }), { type: "NOT_COORDINATOR_FOR_GROUP" });
  assert.deepEqual(c.calls, ["refreshMetadata", "findGroupCoordinator orders"]);
  // ...and the retry commits to the coordinator the cluster named, not to the old node.
  await m.commitOffsets({ topics });
  assert.equal(moved.commits.length, 1);
  assert.equal(successor.commits.length, 1);
});

Deno.test("isFencedInstance: FENCED_INSTANCE_ID anywhere in the cause chain, nothing else", async () => {
  const { isFencedInstance } = await import("../../src/platform/kafka.ts");
  const fenced = Object.assign(new Error("fenced"), { type: "FENCED_INSTANCE_ID" });
  assert.equal(isFencedInstance(fenced), true);
  assert.equal(isFencedInstance(new Error("wrapped", { cause: fenced })), true);
  assert.equal(
    isFencedInstance(Object.assign(new Error("x"), { type: "UNKNOWN_MEMBER_ID" })),
    false,
  );
  assert.equal(isFencedInstance(undefined), false);
});

// Patch 3: the request queue's timer loop (vendor/kafkajs/PATCHES.md).
const RequestQueue = require("./network/requestQueue/index.js") as new (
  options: Record<string, unknown>,
) => {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: unknown;
  push(request: Record<string, unknown>): void;
  fulfillRequest(response: { correlationId: number; payload: unknown; size: number }): void;
  destroy(): void;
};

function requestQueue(maxInFlightRequests?: number) {
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  return new RequestQueue({
    maxInFlightRequests,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: "test",
    broker: "test:9092",
    logger: quiet,
  });
}

function pushRequest(
  queue: ReturnType<typeof requestQueue>,
  correlationId: number,
  sent: number[],
): void {
  queue.push({
    entry: {
      correlationId,
      apiKey: 1,
      apiName: "Fetch",
      apiVersion: 11,
      resolve: () => {},
      reject: () => {},
    },
    expectResponse: true,
    sendRequest: () => sent.push(correlationId),
  });
}

Deno.test("kafkajs patch 3: a queue with nothing pending schedules no timer", () => {
  const queue = requestQueue();
  const sent: number[] = [];
  try {
    pushRequest(queue, 1, sent);
    assert.deepEqual(sent, [1], "sent at once");
    queue.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    // Upstream scheduled a check here with a negative delay, which scheduled the next: a loop.
    assert.equal(queue.throttleCheckTimeoutId, null);
  } finally {
    queue.destroy();
  }
});

Deno.test("kafkajs patch 3: a request held by the in-flight limit or a throttle is still sent", async () => {
  const queue = requestQueue(1);
  const sent: number[] = [];
  try {
    pushRequest(queue, 1, sent);
    pushRequest(queue, 2, sent);
    assert.deepEqual(sent, [1], "the second waits for the in-flight one");
    queue.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    assert.deepEqual(sent, [1, 2], "sent when the first is answered");
    queue.fulfillRequest({ correlationId: 2, payload: null, size: 0 });

    queue.throttledUntil = Date.now() + 30;
    pushRequest(queue, 3, sent);
    assert.deepEqual(sent, [1, 2], "held while throttled");
    assert.notEqual(
      queue.throttleCheckTimeoutId,
      null,
      "a check is scheduled for the throttle's end",
    );
    const deadline = Date.now() + 2_000;
    while (sent.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(sent, [1, 2, 3], "sent once the throttle ended");
  } finally {
    queue.destroy();
  }
});
