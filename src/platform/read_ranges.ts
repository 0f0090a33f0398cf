/**
 * Reads given offset ranges of a topic's partitions (at most one range per partition), with a
 * throwaway consumer group, for operator tools (DLQ pages, looking up one dead letter): memory
 * and time follow the ranges asked for, never the topic's size.
 */
import type { Kafka } from "./kafka.ts";
import { type TopicRecord, toTopicRecord } from "./read_topic.ts";
import { waitFor } from "./wait_for.ts";

/** Offsets `from` (inclusive) to `to` (exclusive) of one partition. */
export interface OffsetRange {
  partition: number;
  from: bigint;
  to: bigint;
}

/**
 * The records of `ranges` in `topic`, sorted by partition and offset. The caller keeps each
 * range within the partition's low and high watermarks (`admin.fetchTopicOffsets`): a range
 * past the high watermark waits for records that may never come, until `timeoutMs`.
 * @example
 * const page = await readRanges(kafka, "shop.order.dlq", [{ partition: 0, from: 90n, to: 100n }]);
 */
export async function readRanges(
  kafka: Kafka,
  topic: string,
  ranges: OffsetRange[],
  timeoutMs = 30_000,
): Promise<TopicRecord[]> {
  const wanted = new Map(
    ranges.filter((r) => r.to > r.from).map((r) => [r.partition, r]),
  );
  if (wanted.size !== ranges.filter((r) => r.to > r.from).length) {
    throw new RangeError(
      `Cannot read ${topic} as 'ranges' must name each partition once: current value is ${
        JSON.stringify(ranges.map((r) => r.partition))
      }`,
    );
  }
  const records: TopicRecord[] = [];
  if (wanted.size === 0) return records;
  const pending = new Set(wanted.keys());
  const groupId = `read-${topic}-${crypto.randomUUID()}`;
  // Latest by default: partitions not asked for are never fetched; the asked ones are seeked.
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  // A range that ends on a transaction marker (an offset no message has) is done when a batch,
  // which reports its last offset markers included, reaches its end.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const range = wanted.get(payload.partition);
    if (range && BigInt(payload.lastOffset) + 1n >= range.to) {
      pending.delete(payload.partition);
    }
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ partition, message }) => {
        const range = wanted.get(partition);
        const offset = BigInt(message.offset);
        // Before the seek took effect, or past the range: not ours.
        if (!range || offset < range.from || offset >= range.to) return Promise.resolve();
        records.push(toTopicRecord(partition, message));
        if (offset + 1n >= range.to) pending.delete(partition);
        return Promise.resolve();
      },
    });
    for (const r of wanted.values()) {
      consumer.seek({ topic, partition: r.partition, offset: String(r.from) });
    }
    await waitFor(() => pending.size === 0, {
      timeoutMs,
      intervalMs: 20,
      what: `offsets ${
        [...wanted.values()].map((r) => `${r.partition}@${r.from}..${r.to}`).join(", ")
      } of ${topic}`,
    });
  } finally {
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin.connect().then(() => admin.deleteGroups([groupId])).catch(() => {});
    await admin.disconnect().catch(() => {});
  }
  return records.sort((a, b) =>
    a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset))
  );
}
