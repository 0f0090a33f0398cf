/**
 * Relay throughput: how many events/s Debezium carries from the outbox to Kafka, against a kafkajs
 * producer writing the same records straight into the same broker (the limit), both measured
 * until a consumer has received every record. Then commit-to-consume latency at 10%, 50% and 90%
 * of the relay's sustained rate (open loop, one transaction per 10 ms tick).
 */
import type { Config } from "../src/platform/config.ts";
import { connect } from "../src/platform/db.ts";
import { ensureTopics, kafkaClient, keyedProducer } from "../src/platform/kafka.ts";
import { appendEvents, type OutboxEvent } from "../src/platform/outbox.ts";
import { topicFor } from "../src/events/topics.ts";
import { uuidv7 } from "../src/platform/uuidv7.ts";
import { waitFor } from "../src/platform/wait_for.ts";
import { summarize, type Summary } from "./stats.ts";

export interface RelayResult {
  events: number;
  relayPerSecond: number;
  directPerSecond: number;
  ratio: number;
  latency: { percentOfRelay: number; ratePerSecond: number; ms: Summary }[];
}

const PAYLOAD = { orderId: "01938f4a-7b7c-7def-8a12-3456789abcde", note: "x".repeat(200) };

export async function relayThroughput(cfg: Config, events = 50_000): Promise<RelayResult> {
  const kafka = kafkaClient(cfg.kafkaBrokers, "bench-relay");
  const admin = kafka.admin();
  await admin.connect();
  const run = crypto.randomUUID().slice(0, 8);
  const relayType = `bench-r${run}`;
  const relayTopic = topicFor(relayType);
  const directTopic = `bench.direct-${run}`;
  await ensureTopics(admin, [relayTopic, directTopic], {
    partitions: cfg.topicPartitions,
    replicationFactor: 1,
  });
  const sql = connect(cfg.databaseUrl, { max: 4, applicationName: "bench" });
  // Not idempotent: the limit is the fastest the client writes these records.
  const producer = kafka.producer({ createPartitioner: keyedProducer.createPartitioner });
  await producer.connect();
  const received = new Map<string, number>();
  const arrivals = new Map<string, number>(); // event id -> receive time
  const consumer = kafka.consumer({ groupId: `bench-${run}`, maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topics: [relayTopic, directTopic], fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: cfg.topicPartitions,
    eachBatch: ({ batch }) => {
      received.set(batch.topic, (received.get(batch.topic) ?? 0) + batch.messages.length);
      if (batch.topic === relayTopic) {
        const now = performance.now();
        for (const m of batch.messages) arrivals.set(m.headers!.id!.toString(), now);
      }
      return Promise.resolve();
    },
  });
  const event = (i: number): OutboxEvent => ({
    aggregateType: relayType,
    aggregateId: String(i % 64),
    type: "Bench",
    payload: PAYLOAD,
  });
  try {
    // Warm-up (JIT of Connect and Debezium, connections): 20,000 events, not measured.
    const warm = 20_000;
    for (let i = 0; i < warm; i += 1000) {
      await sql.begin((tx) =>
        appendEvents(tx, Array.from({ length: 1000 }, (_, k) => event(i + k)))
      );
    }
    await waitFor(() => (received.get(relayTopic) ?? 0) >= warm, {
      timeoutMs: 600_000,
      intervalMs: 20,
      what: "the warm-up events",
    });
    received.set(relayTopic, 0);

    // Relay: commit the events in transactions of 1,000, then wait until all are consumed.
    let start = performance.now();
    for (let i = 0; i < events; i += 1000) {
      await sql.begin((tx) =>
        appendEvents(tx, Array.from({ length: Math.min(1000, events - i) }, (_, k) => event(i + k)))
      );
    }
    await waitFor(() => (received.get(relayTopic) ?? 0) >= events, {
      timeoutMs: 600_000,
      intervalMs: 20,
      what: "the relayed events",
    });
    const relaySeconds = (performance.now() - start) / 1000;

    // Direct: the same records (key, value, headers) produced in batches of 1,000.
    start = performance.now();
    for (let i = 0; i < events; i += 1000) {
      await producer.send({
        topic: directTopic,
        messages: Array.from({ length: Math.min(1000, events - i) }, (_, k) => ({
          key: String((i + k) % 64),
          value: JSON.stringify(PAYLOAD),
          headers: { id: uuidv7(), eventType: "Bench", eventVersion: "1" },
        })),
      });
    }
    await waitFor(() => (received.get(directTopic) ?? 0) >= events, {
      timeoutMs: 600_000,
      intervalMs: 20,
      what: "the produced records",
    });
    const directSeconds = (performance.now() - start) / 1000;
    const relayPerSecond = Math.round(events / relaySeconds);

    const latency: RelayResult["latency"] = [];
    for (const percent of [10, 50, 90]) {
      const rate = Math.max(1, Math.round((relayPerSecond * percent) / 100));
      const perTick = Math.max(1, Math.round(rate / 100));
      const committed = new Map<string, number>();
      const t0 = performance.now();
      for (let tick = 0; tick < 1000; tick++) { // 10 s
        const due = t0 + tick * 10;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const ids = await sql.begin((tx) =>
          appendEvents(tx, Array.from({ length: perTick }, (_, k) => event(k)))
        );
        const at = performance.now();
        for (const id of ids) committed.set(id, at);
      }
      await waitFor(() => [...committed.keys()].every((id) => arrivals.has(id)), {
        timeoutMs: 120_000,
        intervalMs: 50,
        what: "the paced events",
      });
      latency.push({
        percentOfRelay: percent,
        ratePerSecond: perTick * 100,
        ms: summarize([...committed].map(([id, at]) => arrivals.get(id)! - at)),
      });
    }
    return {
      events,
      relayPerSecond,
      directPerSecond: Math.round(events / directSeconds),
      ratio: Math.round((relaySeconds > 0 ? directSeconds / relaySeconds : 0) * 100) / 100,
      latency,
    };
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [relayTopic, directTopic] }).catch(() => {});
    await admin.disconnect();
    await sql.end();
  }
}
