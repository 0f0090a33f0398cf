/**
 * The one way events are appended: `publish` writes typed events into the outbox inside the
 * caller's transaction, so they commit or roll back with the business rows, and Debezium relays
 * them. The catalog the publisher is made from decides each event's aggregate (topic), key and
 * version, and each payload is validated against its schema first: a producer bug fails the
 * write, not a consumer. `publishQuery` is the same insert as a query to nest in a larger
 * statement, for write paths that are one data-modifying CTE (one round trip).
 */
import type { z } from "zod";
import type { Fragment, Sql, Tx } from "./db.ts";
import type { EventCatalog, TypeOf } from "./event_catalog.ts";
import { uuidv7 } from "./uuidv7.ts";

/** An event of catalog `C` to publish: its type, and that type's payload. */
export type Publishable<C extends EventCatalog, T extends TypeOf<C> = TypeOf<C>> = {
  [K in T]: {
    type: K;
    payload: z.input<C[K]["schema"]>;
    /** W3C traceparent of this event, when it differs from the call's (a batch of traces). */
    traceparent?: string | null;
  };
}[T];

export interface Publisher<C extends EventCatalog> {
  /**
   * Appends `events` to the outbox in `tx` and returns their ids (UUIDv7), in order.
   * `traceparent` (W3C) rides with each event that names none of its own, across the relay.
   * @example
   * await sql.begin(async (tx) => {
   *   await tx`insert into wallet_charges ...`;
   *   await publish(tx, [{ type: "WalletCharged", payload }], trace);
   * });
   */
  publish(tx: Tx | Sql, events: Publishable<C>[], traceparent?: string | null): Promise<string[]>;
  /**
   * The insert `publish` runs, as a query the caller nests in a larger statement (a
   * data-modifying CTE: `with row as (insert ...), events as (${query}) select ...`). `onlyIf`,
   * a SQL condition, makes it conditional (e.g. "the business row was inserted"). `merge`, a
   * `jsonb` SQL expression (it may read the statement's other CTEs), is merged into every
   * payload: for values only the database decides in that statement (e.g. a deadline from its
   * clock). Merged fields are the caller's to keep within the schema: they are not parsed.
   */
  publishQuery(
    sql: Tx | Sql,
    events: Publishable<C>[],
    traceparent?: string | null,
    onlyIf?: Fragment,
    merge?: Fragment,
  ): { ids: string[]; query: Fragment };
}

/**
 * Aggregate types are topic names (the relay routes `shop.<aggregatetype>`): Kafka allows
 * [a-zA-Z0-9._-]; we keep to lower case.
 */
export const AGGREGATE_TYPE_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

interface OutboxRow {
  aggregateType: string;
  aggregateId: string;
  type: string;
  version: number;
  payload: unknown;
  traceparent: string | null;
}

/** A publisher of `catalog`'s events. */
export function createPublisher<C extends EventCatalog>(catalog: C): Publisher<C> {
  const toRows = (events: Publishable<C>[], traceparent?: string | null): OutboxRow[] =>
    events.map((e) => {
      const spec = Object.hasOwn(catalog, e.type) ? catalog[e.type] : undefined;
      if (!spec) {
        throw new TypeError(`Cannot publish event '${e.type}' as it is not in the catalog`);
      }
      const payload = spec.schema.parse(e.payload);
      const row = {
        aggregateType: spec.aggregate,
        aggregateId: spec.key(payload),
        type: e.type,
        version: spec.version,
        payload,
        traceparent: e.traceparent ?? traceparent ?? null,
      };
      if (!AGGREGATE_TYPE_PATTERN.test(row.aggregateType)) {
        throw new TypeError(
          `Cannot publish event '${e.type}' as 'aggregateType' must match ${AGGREGATE_TYPE_PATTERN}: current value is ${
            JSON.stringify(row.aggregateType)
          }`,
        );
      }
      if (row.aggregateId.length === 0) {
        throw new TypeError(`Cannot publish event '${e.type}' as its key is empty`);
      }
      return row;
    });

  const publishQuery: Publisher<C>["publishQuery"] = (sql, events, traceparent, onlyIf, merge) => {
    const rows = toRows(events, traceparent);
    const ids = rows.map(() => uuidv7());
    const query = sql`
      insert into outbox (id, aggregatetype, aggregateid, type, version, payload, traceparent)
      select id, aggregatetype, aggregateid, type, version,
             ${merge ? sql`payload::jsonb || ${merge}` : sql`payload::jsonb`}, traceparent
      from unnest(
        ${ids}::uuid[], ${rows.map((r) => r.aggregateType)}::text[],
        ${rows.map((r) => r.aggregateId)}::text[], ${rows.map((r) => r.type)}::text[],
        ${rows.map((r) => r.version)}::smallint[],
        ${rows.map((r) => JSON.stringify(r.payload))}::text[],
        ${rows.map((r) => r.traceparent)}::text[]
      ) as e(id, aggregatetype, aggregateid, type, version, payload, traceparent)
      ${onlyIf ? sql`where ${onlyIf}` : sql``}`;
    return { ids, query };
  };

  return {
    publishQuery,
    async publish(tx, events, traceparent) {
      if (events.length === 0) return [];
      const { ids, query } = publishQuery(tx, events, traceparent);
      await query;
      return ids;
    },
  };
}
