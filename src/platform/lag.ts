/**
 * Consumer lag as a number: for each partition of a group's topics, the high watermark minus the
 * committed offset. Used by the workers' metrics, `deno task stack:status` and the ops console.
 */
import type { Admin } from "./kafka.ts";

export interface PartitionLag {
  topic: string;
  partition: number;
  end: number;
  committed: number;
  lag: number;
}

/** Each topic's partitions with their low and high watermarks. */
export type Ends = Map<string, { partition: number; high: number; low: number }[]>;

/**
 * Watermarks of `topics`. Waits for every request before failing (a missing topic fails one):
 * a request left running after the caller gave up would keep kafkajs retrying behind a
 * disconnected client, and the process from exiting.
 */
export async function topicEnds(admin: Admin, topics: string[]): Promise<Ends> {
  const results = await Promise.allSettled(topics.map((t) => admin.fetchTopicOffsets(t)));
  const out: Ends = new Map();
  for (const [i, r] of results.entries()) {
    if (r.status === "rejected") throw r.reason;
    out.set(
      topics[i],
      r.value.map((o) => ({ partition: o.partition, high: Number(o.high), low: Number(o.low) })),
    );
  }
  return out;
}

/**
 * Lag per partition of `group` on `topics`, sorted by topic and partition. `ends`: watermarks
 * read once for several groups (the console); fetched here when omitted.
 */
export async function groupLag(
  admin: Admin,
  group: string,
  topics: string[],
  ends?: Ends,
): Promise<PartitionLag[]> {
  const watermarks = ends ?? await topicEnds(admin, topics);
  const committed = await admin.fetchOffsets({ groupId: group, topics });
  const out: PartitionLag[] = [];
  for (const t of committed) {
    for (const p of t.partitions) {
      const end = watermarks.get(t.topic)?.find((e) => e.partition === p.partition);
      const high = end?.high ?? 0;
      // -1: nothing committed yet; a new group starts at the beginning (low).
      const c = Number(p.offset) < 0 ? (end?.low ?? 0) : Number(p.offset);
      out.push({
        topic: t.topic,
        partition: p.partition,
        end: high,
        committed: c,
        lag: Math.max(0, high - c),
      });
    }
  }
  return out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** The sum of the high watermarks of `topics`: every record ever written to them. */
export function totalEnd(ends: Ends, topics: string[]): number {
  return topics.reduce((a, t) => a + (ends.get(t) ?? []).reduce((b, p) => b + p.high, 0), 0);
}
