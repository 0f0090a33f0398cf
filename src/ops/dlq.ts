/**
 * Dead letters: list, replay, discard; used by the ops console and by `deno task dlq`
 * (src/main/dlq.ts).
 *
 * `deno task dlq list <topic>` shows the dead letters of a topic with their error headers;
 * `deno task dlq replay <topic> [--id <event id> ...]` sends them back to their origin topic with
 * their original key, value, headers and event id. The consumers' inbox makes a replay of an
 * event that was already applied a no-op, so replaying is always safe. Each replay is recorded
 * (`dead_letter_replays`): a replay of "all" skips what was replayed before; naming ids sends
 * those again. A discard (`dead_letter_discards`, from the ops console) parks a dead letter for
 * good: it leaves the list of open dead letters and is never replayed by "all".
 */
import type { Sql } from "../platform/db.ts";
import { type Kafka, keyedProducer } from "../platform/kafka.ts";
import { readTopic, type TopicRecord } from "../platform/read_topic.ts";
import { dlqTopicFor } from "../events/topics.ts";

export interface DeadLetter {
  dlqPartition: number;
  dlqOffset: string;
  id: string | undefined;
  eventType: string | undefined;
  origin: { topic: string; partition: number; offset: string };
  group: string;
  errorClass: string;
  errorMessage: string;
  at: string | undefined;
  record: TopicRecord;
}

/** `partition@offset` in the DLQ topic: names a dead letter even when it carries no event id. */
export const dlqKey = (d: Pick<DeadLetter, "dlqPartition" | "dlqOffset">) =>
  `${d.dlqPartition}@${d.dlqOffset}`;

/** Whether `ids` (event ids or `partition@offset` keys) names `d`. */
const named = (d: DeadLetter, ids: string[]) =>
  (d.id !== undefined && ids.includes(d.id)) || ids.includes(dlqKey(d));

export const dlqName = (topic: string) => topic.endsWith(".dlq") ? topic : dlqTopicFor(topic);

/**
 * Every dead letter of `topic` (the origin topic or its `.dlq`), one per origin record: a copy
 * produced again after a crash during the first produce (see platform/dead_letter.ts) is
 * collapsed into the first.
 */
export async function listDeadLetters(kafka: Kafka, topic: string): Promise<DeadLetter[]> {
  const seen = new Set<string>();
  const records = (await readTopic(kafka, dlqName(topic))).filter((r) => {
    const h = r.headers;
    const origin = `${h["dlq.group"]}|${h["dlq.origin.topic"]}|${h["dlq.origin.partition"]}|${
      h["dlq.origin.offset"]
    }`;
    if (seen.has(origin)) return false;
    seen.add(origin);
    return true;
  });
  return records.map((r) => ({
    dlqPartition: r.partition,
    dlqOffset: r.offset,
    id: r.headers.id,
    eventType: r.headers.eventType,
    origin: {
      topic: r.headers["dlq.origin.topic"],
      partition: Number(r.headers["dlq.origin.partition"]),
      offset: r.headers["dlq.origin.offset"],
    },
    group: r.headers["dlq.group"],
    errorClass: r.headers["dlq.error.class"],
    errorMessage: r.headers["dlq.error.message"],
    at: r.headers["dlq.at"],
    record: r,
  }));
}

/** The DLQ coordinates already replayed or discarded, as `partition@offset` keys. */
async function settledKeys(sql: Sql, topic: string): Promise<Set<string>> {
  const rows = await sql<{ at: string }[]>`
    select dlq_partition || '@' || dlq_offset as at from dead_letter_replays
    where dlq_topic = ${dlqName(topic)}
    union
    select dlq_partition || '@' || dlq_offset from dead_letter_discards
    where dlq_topic = ${dlqName(topic)}`;
  return new Set(rows.map((r) => r.at));
}

/** The dead letters of `topic` neither replayed nor discarded: what still needs a decision. */
export async function openDeadLetters(
  kafka: Kafka,
  sql: Sql,
  topic: string,
  letters?: DeadLetter[],
): Promise<DeadLetter[]> {
  const all = letters ?? await listDeadLetters(kafka, topic);
  const settled = await settledKeys(sql, topic);
  return all.filter((d) => !settled.has(dlqKey(d)));
}

/**
 * Records dead letters (named by event id or `partition@offset`) as discarded by `by` (an
 * operator's sub): they leave the open list and a replay of "all". Returns what was discarded.
 */
export async function discardDeadLetters(
  kafka: Kafka,
  sql: Sql,
  topic: string,
  ids: string[],
  by: string,
): Promise<DeadLetter[]> {
  const chosen = (await listDeadLetters(kafka, topic)).filter((d) => named(d, ids));
  for (const d of chosen) {
    await sql`
      insert into dead_letter_discards (dlq_topic, dlq_partition, dlq_offset, event_id, discarded_by)
      values (${dlqName(topic)}, ${d.dlqPartition}, ${d.dlqOffset}, ${d.id ?? null}, ${by})
      on conflict do nothing`;
  }
  return chosen;
}

/**
 * Re-produces dead letters to their origin topic, without the dlq.* headers: those named in `ids`
 * (event ids or `partition@offset` keys), or else every one neither replayed nor discarded
 * before. Returns what was replayed.
 */
export async function replayDeadLetters(
  kafka: Kafka,
  sql: Sql,
  topic: string,
  ids?: string[],
): Promise<DeadLetter[]> {
  const all = await listDeadLetters(kafka, topic);
  let chosen: DeadLetter[];
  if (ids?.length) {
    chosen = all.filter((d) => named(d, ids));
  } else {
    chosen = await openDeadLetters(kafka, sql, topic, all);
  }
  if (chosen.length === 0) return [];
  const producer = kafka.producer(keyedProducer);
  await producer.connect();
  try {
    for (const d of chosen) {
      const headers = Object.fromEntries(
        Object.entries(d.record.headers).filter(([k]) => !k.startsWith("dlq.")),
      );
      await producer.send({
        topic: d.origin.topic,
        acks: -1,
        messages: [{ key: d.record.key, value: d.record.value, headers }],
      });
      await sql`
        insert into dead_letter_replays (dlq_topic, dlq_partition, dlq_offset, event_id)
        values (${dlqName(topic)}, ${d.dlqPartition}, ${d.dlqOffset}, ${d.id ?? null})
        on conflict (dlq_topic, dlq_partition, dlq_offset) do update set replayed_at = now()`;
    }
  } finally {
    await producer.disconnect();
  }
  return chosen;
}
