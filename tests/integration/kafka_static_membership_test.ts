/**
 * Static group membership (KIP-345) of the vendored, patched kafkajs (vendor/kafkajs/PATCHES.md)
 * against the real Kafka 4.3 broker of the local stack:
 * - a static member restarted with the same instance id (a new client, as a new process would
 *   have) gets its partitions back in the same generation, and the other member sees no rebalance;
 * - a static member that stops does not leave: the group lists it until its session expires;
 * - a second live consumer with the same instance id fences the first, which crashes with
 *   FENCED_INSTANCE_ID and does not restart.
 * Each test has its own topic and group. The broker's view comes from `describeGroups` (member
 * ids, assignments, state); the generation, which DescribeGroups does not report, from the
 * GROUP_JOIN event (patched to carry it).
 */
import assert from "node:assert/strict";
import { AssignerProtocol } from "kafkajs";
import type { Admin, Consumer, Kafka } from "../../src/platform/kafka.ts";
import { kafkaAccess, kafkaClient, keyedProducer } from "../../src/platform/kafka.ts";
import { PRINCIPALS } from "../../src/kafka_acls.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { cfg, createTopics, real, unique } from "../helpers/stack.ts";
import { Workers } from "../helpers/workers.ts";

/** What one consumer went through, from its instrumentation events. */
interface Seen {
  joins: { generationId: number; memberId: string; assignment: Record<string, number[]> }[];
  rebalances: number;
  heartbeats: number;
  crashes: { type: string | undefined; restart: boolean }[];
  records: number;
}

/** The innermost `cause` (kafkajs wraps the broker's error in retry errors). */
function rootCause(err: unknown): { type?: string } {
  let e = err as { cause?: unknown; type?: string };
  while (e?.cause) e = e.cause as typeof e;
  return e;
}

/**
 * A consumer of `topic` in `groupId`, started; `instance` null: a dynamic member. Each consumer
 * gets its own client (own connections), like a separate process.
 */
async function startConsumer(
  topic: string,
  groupId: string,
  instance: string | null,
  sessionTimeout: number,
): Promise<{ consumer: Consumer; seen: Seen; kafka: Kafka }> {
  const kafka = kafkaClient(
    kafkaAccess(cfg, PRINCIPALS.test),
    `tests-static-${instance ?? "dynamic"}`,
  );
  const consumer = kafka.consumer({
    groupId,
    groupInstanceId: instance,
    sessionTimeout,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 100,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1_000 },
  });
  const seen: Seen = { joins: [], rebalances: 0, heartbeats: 0, crashes: [], records: 0 };
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    seen.joins.push({
      generationId: payload.generationId,
      memberId: payload.memberId,
      assignment: payload.memberAssignment,
    });
  });
  consumer.on(consumer.events.REBALANCING, () => void seen.rebalances++);
  consumer.on(consumer.events.HEARTBEAT, () => void seen.heartbeats++);
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    seen.crashes.push({ type: rootCause(payload.error).type, restart: payload.restart });
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: () => {
      seen.records++;
      return Promise.resolve();
    },
  });
  return { consumer, seen, kafka };
}

/** The group as the coordinator describes it, with each member's assignment decoded. */
async function describe(admin: Admin, groupId: string) {
  const { groups: [group] } = await admin.describeGroups([groupId]);
  return {
    state: group.state,
    members: group.members.map((m) => ({
      memberId: m.memberId,
      assignment: AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {},
    })),
  };
}

const last = <T>(xs: T[]): T | undefined => xs[xs.length - 1];
const partitionsOf = (a: Record<string, number[]>, topic: string) =>
  [...(a[topic] ?? [])].sort((x, y) => x - y);

/** Both consumers joined the same generation, the group is Stable and all partitions assigned. */
async function settled(admin: Admin, groupId: string, topic: string, seen: Seen[]) {
  return await waitFor(async () => {
    const gens = seen.map((s) => last(s.joins)?.generationId);
    if (gens.some((g) => g === undefined) || new Set(gens).size !== 1) return undefined;
    const group = await describe(admin, groupId);
    const assigned = group.members.flatMap((m) => partitionsOf(m.assignment, topic));
    const ids = seen.map((s) => last(s.joins)!.memberId).sort();
    return group.state === "Stable" && assigned.length === cfg.topicPartitions &&
        JSON.stringify(group.members.map((m) => m.memberId).sort()) === JSON.stringify(ids)
      ? { generationId: gens[0]!, group }
      : undefined;
  }, { timeoutMs: 60_000, what: "a stable group of both consumers" });
}

async function withStack(
  fn: (ctx: { topic: string; groupId: string; admin: Admin; kafka: Kafka }) => Promise<void>,
) {
  const topic = unique("test.static-");
  const groupId = unique("test-static-");
  await createTopics(topic);
  const kafka = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-static-admin");
  const admin = kafka.admin();
  await admin.connect();
  try {
    await fn({ topic, groupId, admin, kafka });
  } finally {
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  }
}

Deno.test(
  "static member restarted with the same instance id: same generation, same partitions, no rebalance",
  real,
  () =>
    withStack(async ({ topic, groupId, admin, kafka }) => {
      const consumers: Consumer[] = [];
      try {
        const a = await startConsumer(topic, groupId, `${groupId}-0`, 30_000);
        consumers.push(a.consumer);
        const b = await startConsumer(topic, groupId, `${groupId}-1`, 30_000);
        consumers.push(b.consumer);
        const before = await settled(admin, groupId, topic, [a.seen, b.seen]);
        const aJoin = last(a.seen.joins)!;
        const bJoins = b.seen.joins.length;
        const bRebalances = b.seen.rebalances;
        assert.ok(aJoin.memberId.startsWith(`${groupId}-0-`), aJoin.memberId);

        await a.consumer.disconnect();
        // No LeaveGroup was sent: the stopped member is still in the group, still Stable.
        const stopped = await describe(admin, groupId);
        assert.equal(stopped.state, "Stable");
        assert.ok(stopped.members.some((m) => m.memberId === aJoin.memberId));

        const restarted = await startConsumer(topic, groupId, `${groupId}-0`, 30_000);
        consumers.push(restarted.consumer);
        const rejoin = await waitFor(() => last(restarted.seen.joins), {
          timeoutMs: 30_000,
          what: "the restarted member's join",
        });
        assert.equal(rejoin.generationId, before.generationId, "the generation did not change");
        assert.notEqual(rejoin.memberId, aJoin.memberId, "a new member id replaced the old one");
        assert.deepEqual(
          partitionsOf(rejoin.assignment, topic),
          partitionsOf(aJoin.assignment, topic),
        );

        // Give the other member several heartbeats after the restart, so a rebalance would show.
        const beats = b.seen.heartbeats;
        await waitFor(() => b.seen.heartbeats >= beats + 4, {
          timeoutMs: 30_000,
          what: "4 more heartbeats of the other member",
        });
        assert.equal(b.seen.joins.length, bJoins, "the other member did not rejoin");
        assert.equal(b.seen.rebalances, bRebalances, "the other member saw no rebalance");
        const after = await describe(admin, groupId);
        assert.equal(after.state, "Stable");
        assert.deepEqual(
          after.members.map((m) => m.memberId).sort(),
          [rejoin.memberId, last(b.seen.joins)!.memberId].sort(),
        );

        // The restarted member consumes its partitions: records to every partition all arrive.
        const producer = kafka.producer(keyedProducer);
        await producer.connect();
        try {
          await producer.send({
            topic,
            messages: Array.from({ length: cfg.topicPartitions }, (_, partition) => ({
              partition,
              value: `p${partition}`,
            })),
          });
        } finally {
          await producer.disconnect();
        }
        await waitFor(
          () => restarted.seen.records + b.seen.records === cfg.topicPartitions,
          { timeoutMs: 30_000, what: "one record per partition" },
        );
        assert.equal(restarted.seen.records, partitionsOf(rejoin.assignment, topic).length);
      } finally {
        for (const c of consumers) await c.disconnect().catch(() => {});
      }
    }),
);

Deno.test(
  "a stopped static member stays in the group until its session expires, then the group rebalances",
  real,
  () =>
    withStack(async ({ topic, groupId, admin }) => {
      // The broker's minimum session (group.min.session.timeout.ms = 6000) keeps the wait short.
      const sessionTimeout = 6_000;
      const consumers: Consumer[] = [];
      try {
        const a = await startConsumer(topic, groupId, `${groupId}-0`, sessionTimeout);
        consumers.push(a.consumer);
        const b = await startConsumer(topic, groupId, `${groupId}-1`, sessionTimeout);
        consumers.push(b.consumer);
        const before = await settled(admin, groupId, topic, [a.seen, b.seen]);
        const aMember = last(a.seen.joins)!.memberId;

        await a.consumer.disconnect();
        const stoppedAt = performance.now();
        // A LeaveGroup is answered before disconnect() returns: had one been sent, the member
        // would be gone here.
        const stopped = await describe(admin, groupId);
        assert.ok(stopped.members.some((m) => m.memberId === aMember), "still a member");
        assert.equal(stopped.state, "Stable");

        // The session expires: the coordinator removes the member and the other one takes all.
        const rejoined = await waitFor(() => {
          const j = last(b.seen.joins)!;
          return j.generationId > before.generationId &&
              partitionsOf(j.assignment, topic).length === cfg.topicPartitions
            ? j
            : undefined;
        }, { timeoutMs: sessionTimeout + 30_000, what: "the other member owning every partition" });
        const waited = performance.now() - stoppedAt;
        // Removed by the session timeout (less at most one heartbeat interval), not at once.
        assert.ok(waited >= sessionTimeout - 1_000, `removed after ${Math.round(waited)} ms`);
        const after = await describe(admin, groupId);
        assert.deepEqual(after.members.map((m) => m.memberId), [rejoined.memberId]);
      } finally {
        for (const c of consumers) await c.disconnect().catch(() => {});
      }
    }),
);

Deno.test(
  "a second live consumer with the same instance id fences the first, which stops for good",
  real,
  () =>
    withStack(async ({ topic, groupId, admin }) => {
      const consumers: Consumer[] = [];
      const instance = `${groupId}-0`;
      try {
        const first = await startConsumer(topic, groupId, instance, 30_000);
        consumers.push(first.consumer);
        await waitFor(() => last(first.seen.joins), { what: "the first consumer's join" });

        const second = await startConsumer(topic, groupId, instance, 30_000);
        consumers.push(second.consumer);
        const secondJoin = await waitFor(() => last(second.seen.joins), {
          what: "the second consumer's join",
        });

        const crash = await waitFor(() => first.seen.crashes[0], {
          timeoutMs: 30_000,
          what: "the first consumer's crash",
        });
        assert.equal(crash.type, "FENCED_INSTANCE_ID");
        assert.equal(crash.restart, false, "kafkajs does not restart a fenced consumer");

        // Several heartbeats of the second consumer later, the first has not come back.
        const joins = first.seen.joins.length;
        const beats = second.seen.heartbeats;
        await waitFor(() => second.seen.heartbeats >= beats + 4, {
          timeoutMs: 30_000,
          what: "4 more heartbeats of the second consumer",
        });
        assert.equal(first.seen.joins.length, joins, "the fenced consumer did not rejoin");
        assert.equal(first.seen.crashes.length, 1);
        assert.equal(second.seen.crashes.length, 0);
        const group = await describe(admin, groupId);
        assert.deepEqual(group.members.map((m) => m.memberId), [secondJoin.memberId]);
      } finally {
        for (const c of consumers) await c.disconnect().catch(() => {});
      }
    }),
);

Deno.test(
  "worker: a second process with the same WORKER_INSTANCE fences the first, which exits 78",
  real,
  async () => {
    // Two helpers, each running its instance 1 of the worker, hence both WORKER_INSTANCE=0.
    const first = new Workers();
    const second = new Workers();
    try {
      await first.start("coupon-redeemer");
      const log = first.logPath("coupon-redeemer");
      const before = (await Deno.readTextFile(log)).length;
      await second.start("coupon-redeemer");
      await waitFor(
        async () => (await Deno.readTextFile(log)).slice(before).includes('"msg":"fenced: '),
        { timeoutMs: 30_000, what: "the first worker to say it is fenced" },
      );
      const status = await first.stop("coupon-redeemer");
      assert.equal(status?.code, 78, "exits as a configuration error, not restarted");
      // The second keeps consuming: its health says so.
      const health = await fetch(
        `http://127.0.0.1:${second.port("coupon-redeemer")}/health/ready`,
      );
      const body = await health.json();
      assert.equal(health.status, 200, JSON.stringify(body));
    } finally {
      await first.stopAll();
      await second.stopAll();
    }
  },
);
