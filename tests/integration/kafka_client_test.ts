/**
 * kafkajs against the real Kafka 4.3 broker: produce, then consume in a consumer group with
 * autoCommit off and explicit offset commits, and prove the committed offsets are honoured.
 */
import assert from "node:assert/strict";
import { kafkaAccess, kafkaClient, keyedProducer } from "../../src/platform/kafka.ts";
import { PRINCIPALS } from "../../src/kafka_acls.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { cfg, createTopics, real, unique } from "../helpers/stack.ts";

Deno.test(
  "kafkajs: produce, consume in a group with manual commit, resume after commit",
  real,
  async () => {
    const topic = unique("test.kafkajs-");
    const groupId = unique("test-group-");
    await createTopics(topic);
    const kafka = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-kafkajs");
    const producer = kafka.producer(keyedProducer);
    await producer.connect();
    const admin = kafka.admin();
    await admin.connect();
    try {
      await producer.send({
        topic,
        messages: Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 5}`, value: `v${i}` })),
      });

      const consumeAll = async (expected: number) => {
        const seen: string[] = [];
        const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          partitionsConsumedConcurrently: cfg.topicPartitions,
          eachMessage: async ({ topic, partition, message }) => {
            seen.push(message.value!.toString());
            await consumer.commitOffsets([
              { topic, partition, offset: (BigInt(message.offset) + 1n).toString() },
            ]);
          },
        });
        await waitFor(() => seen.length >= expected, {
          timeoutMs: 30_000,
          what: `${expected} records`,
        });
        await consumer.disconnect();
        return seen;
      };

      const first = await consumeAll(20);
      assert.deepEqual([...first].sort(), Array.from({ length: 20 }, (_, i) => `v${i}`).sort());

      // Every partition's committed offset equals its end: nothing left uncommitted.
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const ends = await admin.fetchTopicOffsets(topic);
      for (const end of ends) {
        const c = offsets.partitions.find((p) => p.partition === end.partition)!;
        const committed = Math.max(0, Number(c.offset)); // -1: nothing committed (empty partition)
        assert.equal(committed, Number(end.high), `partition ${end.partition}`);
      }

      // A new member of the same group starts after the commits: it sees only the new record.
      await producer.send({ topic, messages: [{ key: "k0", value: "after-commit" }] });
      const second = await consumeAll(1);
      assert.deepEqual(second, ["after-commit"]);
    } finally {
      await producer.disconnect();
      await admin.deleteGroups([groupId]).catch(() => {});
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
  },
);
