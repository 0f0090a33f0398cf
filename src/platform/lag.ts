/**
 * Consumer lag as a number: for each partition of a group's topics, the high watermark minus the
 * committed offset. Used by the workers' metrics and by `deno task stack:status`.
 */
import type { Admin } from "./kafka.ts";

export interface PartitionLag {
  topic: string;
  partition: number;
  end: number;
  committed: number;
  lag: number;
}

export async function groupLag(
  admin: Admin,
  group: string,
  topics: string[],
): Promise<PartitionLag[]> {
  const committed = await admin.fetchOffsets({ groupId: group, topics });
  const out: PartitionLag[] = [];
  for (const t of committed) {
    const ends = await admin.fetchTopicOffsets(t.topic);
    for (const p of t.partitions) {
      const end = ends.find((e) => e.partition === p.partition);
      const high = Number(end?.high ?? 0);
      const low = Number(end?.low ?? 0);
      // -1: nothing committed yet; a new group starts at the beginning (low).
      const c = Number(p.offset) < 0 ? low : Number(p.offset);
      out.push({
        topic: t.topic,
        partition: p.partition,
        end: high,
        committed: c,
        lag: Math.max(0, high - c),
      });
    }
  }
  return out;
}
