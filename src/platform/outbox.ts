/**
 * Outbox retention. Events are written by `publish` (publish.ts) into the caller's transaction;
 * rows stay after insert and a scheduled purge (`purgeOutbox`) deletes old ones. We keep them,
 * rather than insert-and-delete in one transaction, so a write path's events can be inspected
 * (tests, debugging, rebuilding a read model) for the retention window; the publication streams
 * inserts only, so the purge's deletes never reach Debezium. The purge deletes only rows the
 * relay has already streamed (see `purgeOutbox`), so a relay outage loses no event.
 */
import type { Sql } from "./db.ts";
import { type Logger, logger } from "./log.ts";

export interface PurgeOutboxOptions {
  /** The logical replication slot that must have streamed a row first (the relay's). */
  slot: string;
  /** Rows per delete statement. @default 5000 */
  batch?: number;
  /** Says why a purge was skipped. @default logger("retention") */
  log?: Logger;
}

/**
 * Deletes outbox rows older than `olderThanMs` that the relay has already streamed, in batches
 * so a large backlog never holds a long lock. Returns the number deleted. Safe to run from
 * several processes at once.
 *
 * The rule: a row is deleted only if the transaction that inserted it precedes the slot's
 * `catalog_xmin` (`age(xmin) > age(catalog_xmin)`, which is wraparound-safe). Postgres moves a
 * logical slot's `catalog_xmin` forward only once the consumer has confirmed
 * (`confirmed_flush_lsn`) a position past a running-transactions record whose oldest running
 * transaction is the new `catalog_xmin`; every older transaction had committed (or aborted)
 * before that record, so its rows were decoded and confirmed, and Debezium confirms a position
 * only after the records up to it are in Kafka. While the slot is inactive or behind, its
 * `catalog_xmin` stays, so nothing written since is purged. Nothing at all is purged, with a
 * warning on `log`, when the slot does not exist, belongs to another database or has been
 * invalidated (`wal_status = 'lost'`).
 *
 * Caveats:
 * - Conservative: `catalog_xmin` trails the confirmed position (running-transactions records
 *   come every 15 s or so; a long open transaction anywhere on the cluster holds it back), so
 *   streamed rows may outlive the retention by that much.
 * - A slot treats every row committed before it was created as streamed. After a slot loss,
 *   re-publish the unstreamed rows before re-creating the slot (docs/runbook.md).
 */
export async function purgeOutbox(
  sql: Sql,
  olderThanMs: number,
  opts: PurgeOutboxOptions,
): Promise<number> {
  const { slot, batch = 5000, log = logger("retention") } = opts;
  const [s] = await sql<{ database: string | null; here: boolean; lost: boolean; held: boolean }[]>`
    select database, database is not distinct from current_database() as here,
           wal_status is not distinct from 'lost' as lost, catalog_xmin is not null as held
    from pg_replication_slots where slot_name = ${slot}`;
  const skip = !s
    ? "the replication slot does not exist, so no row is known to be relayed"
    : !s.here
    ? `the replication slot belongs to database ${s.database}, not this one`
    : s.lost
    ? "the replication slot is invalidated (wal_status lost): rows since were not relayed"
    : !s.held
    ? "the replication slot has no catalog_xmin yet"
    : undefined;
  if (skip) {
    log.warn(`outbox purge skipped: ${skip}`, { slot });
    return 0;
  }
  const secs = olderThanMs / 1000;
  let total = 0;
  for (;;) {
    // Each statement reads the slot again: if it is dropped or invalidated meanwhile, the
    // comparison is null and deletes nothing. No `for update skip locked`: it needs UPDATE on the
    // outbox, which the API's role does not get; two instances purging at once only wait on
    // each other's deleted rows and skip them.
    // By the row's key, not the event id alone: a dead-letter replay writes an event id again
    // (`replayed_from`), and the young replay must not go with its old original.
    const rows = await sql`
      delete from outbox where (id, replayed_from) in (
        select o.id, o.replayed_from from outbox o
        where o.created_at < (now() at time zone 'utc') - make_interval(secs => ${secs})
          and age(o.xmin) > (
            select age(r.catalog_xmin) from pg_replication_slots r
            where r.slot_name = ${slot} and r.database = current_database()
              and r.wal_status is distinct from 'lost')
        order by o.created_at limit ${batch}
      ) returning 1`;
    total += rows.length;
    if (rows.length < batch) return total;
  }
}
