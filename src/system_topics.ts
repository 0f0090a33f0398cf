/**
 * Creates every system topic and its DLQ (idempotent); run by `deno task topics`
 * (src/main/topics.ts) and by setup.
 */
import { config } from "./platform/config.ts";
import { ensureTopics, kafkaClient } from "./platform/kafka.ts";
import { logger } from "./platform/log.ts";
import { systemTopics } from "./events/topics.ts";

/** Creates the system topics with the configured partitions and replication factor. */
export async function createSystemTopics(): Promise<void> {
  const cfg = config();
  const log = logger("topics");
  const admin = kafkaClient(cfg.kafkaBrokers, "topics").admin();
  await admin.connect();
  try {
    const r = await ensureTopics(admin, systemTopics(), {
      partitions: cfg.topicPartitions,
      replicationFactor: cfg.topicReplicationFactor,
    });
    for (const m of r.mismatched) {
      log.warn("topic has a different partition count than TOPIC_PARTITIONS; left unchanged", m);
    }
    log.info("topics ready", { created: r.created.length, existing: r.existing.length });
  } finally {
    await admin.disconnect();
  }
}
