/**
 * The outbox writer: the one function every write path uses to publish events. It inserts into
 * the caller's transaction, so the events commit or roll back with the business rows.
 *
 * Retention: rows stay after insert and a scheduled purge (`purgeOutbox`) deletes old ones. We
 * keep them, rather than insert-and-delete in one transaction, so a write path's events can be
 * inspected (tests, debugging, rebuilding a read model) for the retention window; the publication
 * streams inserts only, so the purge's deletes never reach Debezium.
 */
import type { Fragment, Sql, Tx } from "./db.ts";
import { uuidv7 } from "./uuidv7.ts";
import { AGGREGATE_TYPE_PATTERN } from "../events/topics.ts";

export interface OutboxEvent {
  /** Decides the topic (`shop.<aggregateType>`). */
  aggregateType: string;
  /** The Kafka record key: events of one aggregate stay in order. */
  aggregateId: string;
  /** Event type, e.g. `OrderCreated`; Kafka header `eventType`. */
  type: string;
  /** Event schema version. @default 1 */
  version?: number;
  /** The JSON payload, the Kafka record value. */
  payload: unknown;
  /** W3C traceparent to carry across the relay. */
  traceparent?: string | null;
}

/**
 * The outbox insert of `events` as a query the caller may run alone or nest in a larger
 * statement (a data-modifying CTE that does a whole write in one round trip). `onlyIf`, a SQL
 * condition, makes the insert conditional (e.g. "the business row was inserted").
 * Returns the event ids (UUIDv7), in order.
 */
export function outboxInsert(
  sql: Tx | Sql,
  events: OutboxEvent[],
  onlyIf?: Fragment,
): { ids: string[]; query: Fragment } {
  for (const e of events) {
    if (!AGGREGATE_TYPE_PATTERN.test(e.aggregateType)) {
      throw new TypeError(
        `Cannot append event '${e.type}' as 'aggregateType' must match ${AGGREGATE_TYPE_PATTERN}: current value is ${
          JSON.stringify(e.aggregateType)
        }`,
      );
    }
    if (e.aggregateId.length === 0) {
      throw new TypeError(`Cannot append event '${e.type}' as 'aggregateId' is empty`);
    }
  }
  const ids = events.map(() => uuidv7());
  const query = sql`
    insert into outbox (id, aggregatetype, aggregateid, type, version, payload, traceparent)
    select id, aggregatetype, aggregateid, type, version, payload::jsonb, traceparent
    from unnest(
      ${ids}::uuid[], ${events.map((e) => e.aggregateType)}::text[],
      ${events.map((e) => e.aggregateId)}::text[], ${events.map((e) => e.type)}::text[],
      ${events.map((e) => e.version ?? 1)}::smallint[],
      ${events.map((e) => JSON.stringify(e.payload))}::text[],
      ${events.map((e) => e.traceparent ?? null)}::text[]
    ) as e(id, aggregatetype, aggregateid, type, version, payload, traceparent)
    ${onlyIf ? sql`where ${onlyIf}` : sql``}`;
  return { ids, query };
}

/**
 * Appends `events` to the outbox inside `tx` and returns their ids (UUIDv7), in order.
 * @example
 * await sql.begin(async (tx) => {
 *   await tx`insert into orders ...`;
 *   await appendEvents(tx, [{ aggregateType: "order", aggregateId: id, type: "OrderCreated", payload }]);
 * });
 */
export async function appendEvents(tx: Tx | Sql, events: OutboxEvent[]): Promise<string[]> {
  if (events.length === 0) return [];
  const { ids, query } = outboxInsert(tx, events);
  await query;
  return ids;
}

/** Appends one event; see `appendEvents`. */
export async function appendEvent(tx: Tx | Sql, event: OutboxEvent): Promise<string> {
  const [id] = await appendEvents(tx, [event]);
  return id;
}

/**
 * Deletes outbox rows older than `olderThanMs`, in batches so a large backlog never holds a long
 * lock. Returns the number deleted. Safe to run from several processes at once.
 */
export async function purgeOutbox(sql: Sql, olderThanMs: number, batch = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    const rows = await sql`
      delete from outbox where id in (
        select id from outbox
        where created_at < (now() at time zone 'utc') - make_interval(secs => ${olderThanMs / 1000})
        order by created_at limit ${batch}
        for update skip locked
      ) returning 1`;
    total += rows.length;
    if (rows.length < batch) return total;
  }
}
