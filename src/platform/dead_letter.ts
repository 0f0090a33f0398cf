/**
 * Sends a record that cannot be applied to `<topic>.dlq`, once. The origin coordinates are
 * written to `dead_letter_log` before the produce and stamped after it, and the caller commits
 * the offset last: a record redelivered after a crash between the produce and the offset commit
 * finds its stamped row and is not sent again. (Only a crash during the produce call itself can
 * leave an unstamped row; the record is then produced again and DLQ readers collapse copies by
 * their origin coordinates, see `src/ops/dlq.ts`.)
 */
import type { Buffer } from "node:buffer";
import type { Sql } from "./db.ts";
import type { KafkaMessage, Producer } from "./kafka.ts";

/** The dead-letter topic of a topic: where this runtime sends what it cannot apply. */
export function dlqTopicFor(topic: string): string {
  return `${topic}.dlq`;
}

export interface DeadLetterInput {
  group: string;
  topic: string;
  partition: number;
  message: KafkaMessage;
  /** The event id header, when the record had a valid one. */
  eventId?: string;
  errorClass: string;
  errorMessage: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The record's `id` header if it is a UUID (the column is `uuid`), else undefined. */
function idHeader(message: KafkaMessage): string | undefined {
  const v = message.headers?.id;
  const value = (Array.isArray(v) ? v[0] : v)?.toString();
  return value !== undefined && UUID.test(value) ? value : undefined;
}

/** Headers of a dead letter: the record's own, plus where it came from and why it failed. */
export function deadLetterHeaders(input: DeadLetterInput): Record<string, string | Buffer> {
  const headers: Record<string, string | Buffer> = {};
  for (const [k, v] of Object.entries(input.message.headers ?? {})) {
    const value = Array.isArray(v) ? v[0] : v;
    if (value !== undefined && value !== null) headers[k] = value; // null: a column left empty
  }
  return Object.assign(headers, {
    "dlq.origin.topic": input.topic,
    "dlq.origin.partition": String(input.partition),
    "dlq.origin.offset": input.message.offset,
    "dlq.group": input.group,
    "dlq.error.class": input.errorClass,
    "dlq.error.message": input.errorMessage.slice(0, 1000),
    "dlq.at": new Date().toISOString(),
  });
}

/**
 * Dead-letters `input.message` unless this group already did. Returns `false` when it was sent
 * before (nothing produced now). Throws what the database or Kafka threw; the caller classifies
 * it (wait while unreachable; a produce Kafka refuses for good is reported, never looped on).
 */
export async function deadLetterOnce(
  sql: Sql,
  producer: Producer,
  input: DeadLetterInput,
): Promise<boolean> {
  const { group, topic, partition, message } = input;
  // A poison record (undecodable payload) may still carry a valid id header: recorded too, so
  // the event's dead letter can be found by its id (e.g. the FCFS deadline sweep does).
  const eventId = input.eventId ?? idHeader(message);
  const [row] = await sql<{ produced: boolean }[]>`
    insert into dead_letter_log (consumer_group, topic, partition, "offset", event_id, error_class)
    values (${group}, ${topic}, ${partition}, ${message.offset}, ${eventId ?? null},
            ${input.errorClass})
    on conflict (consumer_group, topic, partition, "offset")
      do update set error_class = excluded.error_class
    returning produced_at is not null as produced`;
  if (row.produced) return false;
  const [sent] = await producer.send({
    topic: dlqTopicFor(topic),
    acks: -1,
    // The origin partition: the DLQ has as many, and a dead letter stays beside its key's records.
    messages: [{
      key: message.key,
      value: message.value,
      partition,
      headers: deadLetterHeaders(input),
    }],
  });
  // Where it landed, so the dead letter can be read at once by its origin or event id
  // (src/ops/dlq.ts) instead of searched for.
  await sql`
    update dead_letter_log set produced_at = now(), dlq_offset = ${sent?.baseOffset ?? null}
    where consumer_group = ${group} and topic = ${topic} and partition = ${partition}
      and "offset" = ${message.offset}`;
  return true;
}
