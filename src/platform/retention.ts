/**
 * Keeps the bookkeeping tables bounded: every hour (and at start-up), delete inbox rows, outbox
 * rows and Idempotency-Keys past their retention. Deletes run in batches and are safe from
 * several processes at once.
 *
 * The inbox must outlive any copy of an event that can still be delivered: Kafka keeps records
 * 7 days (log.retention.hours=168), so the inbox default is 14 days. Purging earlier would let a
 * redelivery (a consumer reset to the beginning, a DLQ replay) apply an event twice.
 *
 * The outbox purge also waits for the relay: a row past its retention stays until the relay's
 * replication slot has streamed it (see `purgeOutbox`), so a relay outage longer than the
 * retention loses no event.
 */
import type { Sql } from "./db.ts";
import type { Logger } from "./log.ts";
import { purgeOutbox } from "./outbox.ts";
import { purgeIdempotencyKeys } from "./http/idempotency.ts";

const HOUR = 3600_000;

/** Deletes inbox rows of `group` older than `olderThanMs`; returns how many. */
export async function purgeInbox(
  sql: Sql,
  group: string,
  olderThanMs: number,
  batch = 5000,
): Promise<number> {
  let total = 0;
  for (;;) {
    const rows = await sql`
      delete from inbox where (consumer_group, event_id) in (
        select consumer_group, event_id from inbox
        where consumer_group = ${group}
          and processed_at < now() - make_interval(secs => ${olderThanMs / 1000})
        limit ${batch}
      ) returning 1`;
    total += rows.length;
    if (rows.length < batch) return total;
  }
}

export interface RetentionJob {
  name: string;
  run: () => Promise<number>;
}

/** Runs `jobs` now and every `everyMs`; returns a function that stops the schedule. */
export function scheduleRetention(jobs: RetentionJob[], log: Logger, everyMs = HOUR): () => void {
  const tick = async () => {
    for (const job of jobs) {
      try {
        const n = await job.run();
        if (n > 0) log.info("retention purge", { table: job.name, deleted: n });
      } catch (err) {
        log.warn("retention purge failed; next round retries", { table: job.name, error: err });
      }
    }
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return () => clearInterval(timer);
}

export const retentionJobs = {
  inbox: (sql: Sql, group: string, hours: number): RetentionJob => ({
    name: `inbox(${group})`,
    run: () => purgeInbox(sql, group, hours * HOUR),
  }),
  /**
   * Purges rows `slot` (the relay's replication slot) has streamed; `log` says why a round purged
   * nothing (the slot is missing or lost).
   */
  outbox: (sql: Sql, hours: number, slot: string, log?: Logger): RetentionJob => ({
    name: "outbox",
    run: () => purgeOutbox(sql, hours * HOUR, { slot, log }),
  }),
  idempotencyKeys: (sql: Sql, hours: number): RetentionJob => ({
    name: "idempotency_keys",
    run: () => purgeIdempotencyKeys(sql, hours * HOUR),
  }),
};
