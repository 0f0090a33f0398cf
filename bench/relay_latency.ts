/**
 * Relay latency: commit of an outbox row to a kafkajs consumer receiving it, one event at a time
 * (each sent after the previous arrived), so the figure is pure latency, not queueing.
 */
import { connect } from "../src/platform/db.ts";
import { ensureTopics, kafkaAccess, kafkaClient } from "../src/platform/kafka.ts";
import { PRINCIPALS } from "../src/kafka_acls.ts";
import type { Config } from "../src/platform/config.ts";
import { topicFor } from "../src/events/topics.ts";
import { summarize, type Summary } from "./stats.ts";
import { adHocPublisher } from "../tests/helpers/ad_hoc_events.ts";

export async function relayLatency(cfg: Config, count = 500): Promise<Summary> {
  const aggregateType = `bench-${crypto.randomUUID().slice(0, 8)}`;
  const topic = topicFor(aggregateType);
  const kafka = kafkaClient(kafkaAccess(cfg, PRINCIPALS.bench), "bench-relay");
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [topic], { partitions: cfg.topicPartitions, replicationFactor: 1 });
  const sql = connect(cfg.databaseUrl, { max: 1, applicationName: "bench" });
  const consumer = kafka.consumer({ groupId: `${aggregateType}-g`, maxWaitTimeInMs: 50 });
  const arrivedAt = new Map<string, number>();
  let notify: (() => void) | undefined;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message }) => {
      const id = message.headers?.id?.toString();
      if (id) arrivedAt.set(id, performance.now());
      notify?.();
      return Promise.resolve();
    },
  });
  const { publish } = adHocPublisher(aggregateType, { Bench: 1 }, (p) => String(Number(p.i) % 16));
  const samples: number[] = [];
  try {
    for (let i = 0; i < count + 20; i++) {
      const [id] = await sql.begin((tx) => publish(tx, [{ type: "Bench", payload: { i } }]));
      const committed = performance.now();
      const deadline = committed + 30_000;
      while (!arrivedAt.has(id)) {
        if (performance.now() > deadline) throw new Error(`event ${id} did not arrive in 30 s`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          notify = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      if (i >= 20) samples.push(arrivedAt.get(id)! - committed); // 20 warm-up events
    }
  } finally {
    await consumer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.deleteGroups([`${aggregateType}-g`]).catch(() => {});
    await admin.disconnect();
    await sql.end();
  }
  return summarize(samples);
}
