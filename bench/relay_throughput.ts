/**
 * Relay throughput: how many events/s Debezium carries from the outbox to Kafka, against a kafkajs
 * producer writing the same records straight into the same broker (the limit), both measured
 * until a consumer has received every record. The limit runs first and the relay right after,
 * so their ratio comes from neighbouring measurements (the machine drifts between runs; main.ts
 * repeats this pair: limit, system, limit, system, ...). Then commit-to-consume latency at 10%,
 * 50% and 90% of the relay's sustained rate (open loop, one transaction per 10 ms tick).
 */
import type { Config } from "../src/platform/config.ts";
import { connect } from "../src/platform/db.ts";
import { ensureTopics, kafkaAccess, kafkaClient, keyedProducer } from "../src/platform/kafka.ts";
import { PRINCIPALS } from "../src/kafka_acls.ts";
import { topicFor } from "../src/events/topics.ts";
import { uuidv7 } from "../src/platform/uuidv7.ts";
import { waitFor } from "../src/platform/wait_for.ts";
import type { UsageMeter } from "./resources.ts";
import { summarize, type Summary } from "./stats.ts";
import { adHocPublisher } from "../tests/helpers/ad_hoc_events.ts";

export interface RelayResult {
  events: number;
  relayPerSecond: number;
  directPerSecond: number;
  /** When each was measured (limit first): the alternation, visible in the report. */
  directAt: string;
  relayAt: string;
  ratio: number;
  latency: { percentOfRelay: number; ratePerSecond: number; ms: Summary }[];
}

export interface RelayLoad {
  /** Events per throughput measurement. @default 50000 */
  events?: number;
  /** Unmeasured events through both paths first (JIT, connections). @default 20000 */
  warm?: number;
  /** Seconds of each paced latency level. @default 10 */
  pacedSeconds?: number;
}

const PAYLOAD = { orderId: "01938f4a-7b7c-7def-8a12-3456789abcde", note: "x".repeat(200) };
/** Record `i`'s value on both paths: the payload, with the key (one of 64) it is routed by. */
const payloadOf = (i: number) => ({ ...PAYLOAD, key: String(i % 64) });

export async function relayThroughput(
  cfg: Config,
  load: RelayLoad = {},
  meter?: UsageMeter,
): Promise<RelayResult> {
  const { events = 50_000, warm = 20_000, pacedSeconds = 10 } = load;
  const measure = <T>(label: string, fn: () => Promise<T>) =>
    meter ? meter.window(label, fn) : fn();
  const kafka = kafkaClient(kafkaAccess(cfg, PRINCIPALS.bench), "bench-relay");
  const admin = kafka.admin();
  await admin.connect();
  const run = crypto.randomUUID().slice(0, 8);
  const relayType = `bench-r${run}`;
  const relayTopic = topicFor(relayType);
  const directTopic = `bench.direct-${run}`;
  // Both topics at the stack's replication factor (3 on the cluster profile), and both producers
  // (Connect's and this one, kafkajs's default) wait for acks=all: the ratio compares like with
  // like on either profile.
  await ensureTopics(admin, [relayTopic, directTopic], {
    partitions: cfg.topicPartitions,
    replicationFactor: cfg.topicReplicationFactor,
  });
  const sql = connect(cfg.databaseUrl, { max: 4, applicationName: "bench" });
  // Not idempotent: the limit is the fastest the client writes these records.
  const producer = kafka.producer({ createPartitioner: keyedProducer.createPartitioner });
  await producer.connect();
  const received = new Map<string, number>();
  const arrivals = new Map<string, number>(); // event id -> receive time
  const groupId = `bench-${run}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 50 });
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
  const { publish } = adHocPublisher(relayType, { Bench: 1 }, (p) => String(p.key));
  const event = (i: number) => ({ type: "Bench" as const, payload: payloadOf(i) });
  const commitRelay = async (from: number, count: number) => {
    for (let i = from; i < from + count; i += 1000) {
      await sql.begin((tx) =>
        publish(
          tx,
          Array.from({ length: Math.min(1000, from + count - i) }, (_, k) => event(i + k)),
        )
      );
    }
  };
  // The same records (key, value, headers) produced in batches of 1,000.
  const produceDirect = async (count: number) => {
    for (let i = 0; i < count; i += 1000) {
      await producer.send({
        topic: directTopic,
        messages: Array.from({ length: Math.min(1000, count - i) }, (_, k) => ({
          key: String((i + k) % 64),
          value: JSON.stringify(payloadOf(i + k)),
          headers: { id: uuidv7(), eventType: "Bench", eventVersion: "1" },
        })),
      });
    }
  };
  const allReceived = (topic: string, count: number, what: string) =>
    waitFor(() => (received.get(topic) ?? 0) >= count, {
      timeoutMs: 600_000,
      intervalMs: 20,
      what,
    });
  try {
    // Warm-up of both paths (JIT of Connect, Debezium and the client, connections): not measured.
    await commitRelay(0, warm);
    await allReceived(relayTopic, warm, "the warm-up events");
    await produceDirect(warm);
    await allReceived(directTopic, warm, "the warm-up records");
    received.set(relayTopic, 0);
    received.set(directTopic, 0);

    // Limit: the records straight into Kafka, until the consumer has them all.
    const directAt = new Date().toISOString();
    const directSeconds = await measure("limit: kafkajs producer", async () => {
      const start = performance.now();
      await produceDirect(events);
      await allReceived(directTopic, events, "the produced records");
      return (performance.now() - start) / 1000;
    });

    // System, right after: commit in transactions of 1,000, wait until all are consumed.
    const relayAt = new Date().toISOString();
    const relaySeconds = await measure("system: relay", async () => {
      const start = performance.now();
      await commitRelay(0, events);
      await allReceived(relayTopic, events, "the relayed events");
      return (performance.now() - start) / 1000;
    });
    const relayPerSecond = Math.round(events / relaySeconds);

    const latency: RelayResult["latency"] = [];
    for (const percent of [10, 50, 90]) {
      const rate = Math.max(1, Math.round((relayPerSecond * percent) / 100));
      const perTick = Math.max(1, Math.round(rate / 100));
      const committed = new Map<string, number>();
      const t0 = performance.now();
      for (let tick = 0; tick < pacedSeconds * 100; tick++) {
        const due = t0 + tick * 10;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const ids = await sql.begin((tx) =>
          publish(tx, Array.from({ length: perTick }, (_, k) => event(k)))
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
      directAt,
      relayAt,
      ratio: Math.round((relaySeconds > 0 ? directSeconds / relaySeconds : 0) * 100) / 100,
      latency,
    };
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [relayTopic, directTopic] }).catch(() => {});
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect();
    await sql.end();
  }
}
