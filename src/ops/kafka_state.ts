/**
 * What the console reads from Kafka through one admin client: each topic's end offsets and each
 * consumer group's committed offsets, hence lag per partition (the same arithmetic as
 * platform/lag.ts, with each topic's ends fetched once for every group).
 */
import type { Admin } from "../platform/kafka.ts";
import type { PartitionLag } from "../platform/lag.ts";

export type Ends = Map<string, { partition: number; high: number; low: number }[]>;

export async function topicEnds(admin: Admin, topics: string[]): Promise<Ends> {
  const out: Ends = new Map();
  await Promise.all(topics.map(async (t) => {
    const offsets = await admin.fetchTopicOffsets(t);
    out.set(
      t,
      offsets.map((o) => ({ partition: o.partition, high: Number(o.high), low: Number(o.low) })),
    );
  }));
  return out;
}

/** The sum of the high watermarks of `topics`: every record ever written to them. */
export function totalEnd(ends: Ends, topics: string[]): number {
  return topics.reduce((a, t) => a + (ends.get(t) ?? []).reduce((b, p) => b + p.high, 0), 0);
}

export async function groupLagFrom(
  admin: Admin,
  ends: Ends,
  group: string,
  topics: string[],
): Promise<PartitionLag[]> {
  const committed = await admin.fetchOffsets({ groupId: group, topics });
  const out: PartitionLag[] = [];
  for (const t of committed) {
    for (const p of t.partitions) {
      const end = ends.get(t.topic)?.find((e) => e.partition === p.partition);
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
