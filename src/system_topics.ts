/**
 * Creates every system topic and its DLQ and applies the Kafka ACL table (both idempotent); run
 * by `deno task topics` (src/main/topics.ts) and by setup, as the admin principal.
 */
import { config } from "./platform/config.ts";
import { ensureTopics, kafkaAccess, kafkaClient } from "./platform/kafka.ts";
import { logger } from "./platform/log.ts";
import { systemTopics } from "./events/topics.ts";
import { applyKafkaAcls, PRINCIPALS } from "./kafka_acls.ts";

/** Creates the system topics with the configured partitions and replication factor. */
export async function createSystemTopics(): Promise<void> {
  const cfg = config();
  const log = logger("topics");
  const admin = kafkaClient(kafkaAccess(cfg, PRINCIPALS.admin), "topics").admin();
  await admin.connect();
  try {
    const spec = { partitions: cfg.topicPartitions, replicationFactor: cfg.topicReplicationFactor };
    // A broker that has just started may answer the creation's leader wait with "does not host
    // this topic-partition" (CI saw it once, 10 s after the broker started): kafkajs marks that
    // retriable but gave up at once. Try again; only the topics still missing are created.
    let r!: Awaited<ReturnType<typeof ensureTopics>>;
    for (let attempt = 1;; attempt++) {
      try {
        r = await ensureTopics(admin, systemTopics(), spec);
        break;
      } catch (err) {
        if (attempt >= 10 || (err as { retriable?: boolean }).retriable === false) throw err;
        log.warn("creating topics failed; trying again", { error: err, attempt });
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    for (const m of r.mismatched) {
      log.warn("topic has a different partition count than TOPIC_PARTITIONS; left unchanged", m);
    }
    log.info("topics ready", { created: r.created.length, existing: r.existing.length });
  } finally {
    await admin.disconnect();
  }
}

/** Makes the cluster's ACLs the repository's table (src/kafka_acls.ts). */
export async function applyAcls(): Promise<void> {
  const r = await applyKafkaAcls(kafkaAccess(config(), PRINCIPALS.admin));
  logger("acls").info("Kafka ACLs match the table", r);
}
