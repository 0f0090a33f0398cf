/**
 * Reads a topic from its beginning to the end it had when the read started (a snapshot), with a
 * throwaway consumer group. For checkers and tests (the fault harness), not for services, nor for
 * operator tools, which read offset ranges (read_ranges.ts).
 */
import { Buffer } from "node:buffer";
import type { Kafka, KafkaMessage } from "./kafka.ts";
import { waitFor } from "./wait_for.ts";

export interface TopicRecord {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: string;
}

/** A fetched message as a `TopicRecord`: headers as strings, null-valued ones left out. */
export function toTopicRecord(partition: number, message: KafkaMessage): TopicRecord {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(message.headers ?? {})) {
    // A null column placed as a header (e.g. no traceparent) arrives as a null value.
    const value = Array.isArray(v) ? v[0] : v;
    if (value !== undefined && value !== null) headers[k] = value.toString();
  }
  return {
    partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers,
    timestamp: message.timestamp,
  };
}

/**
 * Every record of `topic` up to the end it had when the read started: for tests and checkers
 * that need a whole topic. Operator tools read offset ranges instead (read_ranges.ts).
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  timeoutMs = 30_000,
): Promise<TopicRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  const groupId = `read-${topic}-${crypto.randomUUID()}`;
  const remaining = new Map(
    ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]),
  );
  const records: TopicRecord[] = [];
  if (remaining.size === 0) {
    await admin.disconnect();
    return records;
  }
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  // A topic the relay writes in transactions ends with a commit marker: an offset no message has.
  // A batch reports its last offset, markers included, so a partition is also done when a batch
  // (even one of markers only) reaches the end.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const end = remaining.get(payload.partition);
    if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end) {
      remaining.delete(payload.partition);
    }
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ partition, message }) => {
        const end = remaining.get(partition);
        if (end === undefined || BigInt(message.offset) >= end) return Promise.resolve();
        records.push(toTopicRecord(partition, message));
        if (BigInt(message.offset) + 1n >= end) remaining.delete(partition);
        return Promise.resolve();
      },
    });
    await waitFor(() => remaining.size === 0, { timeoutMs, what: `the end of ${topic}` });
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect();
  }
  return records.sort((a, b) =>
    a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset))
  );
}
