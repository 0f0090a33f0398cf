/**
 * Dead letters against real Kafka and Postgres, on scratch topics: a record is dead-lettered
 * once even when it is delivered again after a crash between the DLQ produce and the offset
 * commit, and a replay of "all" never re-sends what was replayed before.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { deadLetterOnce } from "../../src/platform/dead_letter.ts";
import { kafkaClient, type KafkaMessage, keyedProducer } from "../../src/platform/kafka.ts";
import { listDeadLetters, replayDeadLetters } from "../../src/ops/dlq.ts";
import { dlqTopicFor } from "../../src/events/topics.ts";
import { uuidv7 } from "../../src/platform/uuidv7.ts";
import { cfg, collect, createTopics, db, real, unique } from "../helpers/stack.ts";

function record(offset: string, id = uuidv7()): KafkaMessage {
  return {
    key: Buffer.from("k"),
    value: Buffer.from("{not json"),
    offset,
    timestamp: String(Date.now()),
    attributes: 0,
    headers: { id, eventType: "CouponIssueRequested", eventVersion: "1" },
  } as KafkaMessage;
}

Deno.test("dead letter: a redelivered poison record is dead-lettered once", real, async () => {
  const topic = unique("tests.dl-once-");
  await createTopics(topic, dlqTopicFor(topic));
  const sql = db(2);
  const producer = kafkaClient(cfg.kafkaBrokers, "tests-dl").producer(keyedProducer);
  await producer.connect();
  try {
    const message = record("7");
    const input = {
      group: "tests-dl",
      topic,
      partition: 1,
      message,
      errorClass: "PoisonRecord",
      errorMessage: "the value is not JSON",
    };
    assert.equal(await deadLetterOnce(sql, producer, input), true);
    // The worker crashed before committing the offset: the record comes again.
    assert.equal(await deadLetterOnce(sql, producer, input), false);
    // Another record right behind it, so the reader knows it has seen everything before.
    assert.equal(await deadLetterOnce(sql, producer, { ...input, message: record("8") }), true);
    const letters = await collect(dlqTopicFor(topic), (r) => r.length >= 2);
    assert.deepEqual(letters.map((l) => l.headers["dlq.origin.offset"]).sort(), ["7", "8"]);
    assert.ok(letters.every((l) => l.partition === 1), "a dead letter keeps its partition");
  } finally {
    await producer.disconnect();
    await sql.end();
  }
});

Deno.test(
  "dead letter: replay of all skips what was replayed; naming an id re-sends",
  real,
  async () => {
    const topic = unique("tests.dl-replay-");
    await createTopics(topic, dlqTopicFor(topic));
    const sql = db(2);
    const kafka = kafkaClient(cfg.kafkaBrokers, "tests-dl");
    const producer = kafka.producer(keyedProducer);
    await producer.connect();
    try {
      const ids = [uuidv7(), uuidv7()];
      for (const [i, id] of ids.entries()) {
        await deadLetterOnce(sql, producer, {
          group: "tests-dl",
          topic,
          partition: 0,
          message: record(String(i), id),
          eventId: id,
          errorClass: "PoisonRecord",
          errorMessage: "the value is not JSON",
        });
      }
      assert.equal((await listDeadLetters(kafka, topic)).length, 2);
      const first = await replayDeadLetters(kafka, sql, topic);
      assert.deepEqual(first.map((d) => d.id).sort(), [...ids].sort());
      assert.deepEqual(await replayDeadLetters(kafka, sql, topic), [], "replayed twice");
      const named = await replayDeadLetters(kafka, sql, topic, [ids[0]]);
      assert.deepEqual(named.map((d) => d.id), [ids[0]]);
      // What reached the origin topic: each once from "all", the named one once more.
      const back = await collect(topic, (r) => r.length >= 3);
      assert.equal(back.length, 3);
      assert.ok(back.every((r) => !Object.keys(r.headers).some((h) => h.startsWith("dlq."))));
    } finally {
      await producer.disconnect();
      await sql.end();
    }
  },
);
