/**
 * The one place that knows the Kafka client library (kafkajs, no longer actively maintained):
 * keep client construction and admin helpers here so another client could replace it.
 */
import { Kafka, logLevel as KafkaLogLevel, Partitioners } from "kafkajs";
import type { Admin } from "kafkajs";
import process from "node:process";
import { type Logger, logger } from "./log.ts";

// kafkajs schedules some timers with a negative delay, which Node-compatible runtimes report
// as TimeoutNegativeWarning on stderr (the timer then fires at once, which is what kafkajs
// meant). Drop exactly that warning so it does not pollute the JSON logs.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const name = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string })?.type;
  if (name === "TimeoutNegativeWarning") return;
  (emitWarning as (...a: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

export type { Admin, Consumer, EachMessagePayload, Kafka, KafkaMessage, Producer } from "kafkajs";

const LEVELS: Record<number, "error" | "warn" | "info" | "debug"> = {
  [KafkaLogLevel.ERROR]: "error",
  [KafkaLogLevel.WARN]: "warn",
  [KafkaLogLevel.INFO]: "info",
  [KafkaLogLevel.DEBUG]: "debug",
};

export interface KafkaClientOptions {
  /** No client logs at all (health probes that expect failures). @default false */
  silent?: boolean;
  /** Retries of each request before it fails. @default 20 (about 35 s, see below) */
  retries?: number;
}

/** A kafkajs client whose logs go through our JSON logger. */
export function kafkaClient(
  brokers: string[],
  clientId: string,
  options: KafkaClientOptions = {},
): Kafka {
  const log = logger("kafkajs", { clientId });
  return new Kafka({
    clientId,
    brokers,
    logLevel: options.silent ? KafkaLogLevel.NOTHING : KafkaLogLevel.WARN,
    connectionTimeout: 3000,
    // Each wait at most 2 s (kafkajs' default grows to 30 s): the client's own lookups (the
    // group coordinator, metadata, a broker's connection) retry on this schedule, so after a
    // broker died they try its successor every 2 s at most instead of after 12.8 or 25.6 s. 20
    // retries keep about the patience of the former 8 with growing waits (~35 s instead of ~51 s).
    retry: { retries: options.retries ?? 20, initialRetryTime: 200, maxRetryTime: 2000 },
    logCreator: () => ({ namespace, level, log: entry }) => {
      const { message, timestamp: _t, logger: _l, ...rest } = entry;
      (log as Logger)[LEVELS[level] ?? "info"](message, { namespace, ...rest });
    },
  });
}

/**
 * Producer options for records that must land where Debezium puts their key: kafkajs 2's
 * default partitioner is the Java client's murmur2, named explicitly (which also silences its
 * "switched default partitioner" warning).
 */
export const keyedProducer = {
  createPartitioner: Partitioners.DefaultPartitioner,
  idempotent: true,
} as const;

export interface TopicSpec {
  partitions: number;
  replicationFactor: number;
}

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
  /** Existing topics with a partition count other than asked; left alone (see below). */
  mismatched: { topic: string; partitions: number }[];
}

/**
 * Creates the topics that do not exist yet, waiting for their leaders. Existing topics are never
 * changed: adding partitions would move keys to other partitions and break per-key order, so a
 * mismatch is reported for an operator to decide.
 */
export async function ensureTopics(
  admin: Admin,
  topics: string[],
  spec: TopicSpec,
): Promise<EnsureTopicsResult> {
  const present = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !present.has(t));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: spec.partitions,
        replicationFactor: spec.replicationFactor,
      })),
    });
  }
  const existing = topics.filter((t) => present.has(t));
  const mismatched: EnsureTopicsResult["mismatched"] = [];
  if (existing.length > 0) {
    const meta = await admin.fetchTopicMetadata({ topics: existing });
    for (const t of meta.topics) {
      if (t.partitions.length !== spec.partitions) {
        mismatched.push({ topic: t.name, partitions: t.partitions.length });
      }
    }
  }
  return { created: missing, existing, mismatched };
}
