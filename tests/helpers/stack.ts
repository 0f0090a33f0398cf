/**
 * Shared helpers for tests against the real local stack (Postgres, Kafka, Connect + Debezium).
 * `deno task test` brings the stack up and runs setup before any test starts.
 */
import { type Config, parseConfig } from "../../src/platform/config.ts";
import { connect, type Sql } from "../../src/platform/db.ts";
import {
  ensureTopics,
  kafkaAccess,
  kafkaClient,
  type KafkaMessage,
} from "../../src/platform/kafka.ts";
import { PRINCIPALS } from "../../src/kafka_acls.ts";
import { waitFor } from "../../src/platform/wait_for.ts";

export const cfg: Config = parseConfig(Deno.env.toObject());

/** Options for tests whose clients keep timers or sockets beyond one test's body. */
export const real = { sanitizeOps: false, sanitizeResources: false } as const;

/** A short random suffix for names that isolate one test run's data (topics, groups, dbs). */
export function unique(prefix: string): string {
  return `${prefix}${crypto.randomUUID().slice(0, 8)}`;
}

/** A pool to the stack's database; end it in `finally`. */
export function db(max = 4): Sql {
  return connect(cfg.databaseUrl, { max, applicationName: "tests" });
}

/** Creates `topics` with the configured partition count. */
export async function createTopics(...topics: string[]): Promise<void> {
  const admin = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-admin").admin();
  await admin.connect();
  try {
    await ensureTopics(admin, topics, {
      partitions: cfg.topicPartitions,
      replicationFactor: cfg.topicReplicationFactor,
    });
  } finally {
    await admin.disconnect();
  }
}

export interface Received {
  topic: string;
  partition: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  timestamp: number;
  offset: string;
}

function toReceived(topic: string, partition: number, m: KafkaMessage): Received {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v);
  }
  return {
    topic,
    partition,
    key: m.key?.toString() ?? null,
    value: m.value?.toString() ?? null,
    headers,
    timestamp: Number(m.timestamp),
    offset: m.offset,
  };
}

/**
 * Collects every record of `topic` (from the beginning, fresh group) until `done(records)` holds
 * or the deadline passes.
 */
export async function collect(
  topic: string,
  done: (records: Received[]) => boolean,
  timeoutMs = 30_000,
): Promise<Received[]> {
  const consumer = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-collect").consumer({
    groupId: unique("tests-collect-"),
    maxWaitTimeInMs: 100,
  });
  const records: Received[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ topic, partition, message }) => {
        records.push(toReceived(topic, partition, message));
        return Promise.resolve();
      },
    });
    await waitFor(() => done(records), { timeoutMs, what: `records on ${topic}` });
    return records;
  } finally {
    await consumer.disconnect();
  }
}
