/**
 * Counters that must not move in a normal scenario, read before and after each run: deadlocks
 * and rolled-back transactions of the shop database (pg_stat_database) and dead-lettered records
 * (the end offsets of the `shop.*.dlq` topics). A fast figure next to a deadlock or a dead letter is
 * not a result, so every scenario's report shows these deltas.
 */
import type { Sql } from "../src/platform/db.ts";
import type { Admin } from "../src/platform/kafka.ts";
import { TOPIC_PREFIX } from "../src/events/topics.ts";

export interface Counters {
  deadlocks: number;
  rollbacks: number;
  deadLetters: number;
}

/**
 * Sum of the end offsets of the system's dead-letter topics (`shop.*.dlq`): records ever
 * dead-lettered. Not every `*.dlq`: the tests make dead letters on purpose in topics of their
 * own (`tests.*.dlq`), and they may run meanwhile on this shared stack.
 */
async function deadLetters(admin: Admin): Promise<number> {
  const topics = (await admin.listTopics()).filter((t) =>
    t.startsWith(TOPIC_PREFIX) && t.endsWith(".dlq")
  );
  let sum = 0;
  for (const t of topics) {
    for (const p of await admin.fetchTopicOffsets(t)) sum += Number(p.high);
  }
  return sum;
}

/**
 * Reads the counters. Postgres backends report their statistics when they go idle (at most once
 * a second) or exit, so read "after" once the scenario's processes have stopped.
 */
export async function readCounters(sql: Sql, admin: Admin): Promise<Counters> {
  // A fresh snapshot: within one transaction Postgres would repeat the cached statistics.
  await sql`select pg_stat_clear_snapshot()`;
  const [db] = await sql<{ deadlocks: number; rollbacks: number }[]>`
    select deadlocks, xact_rollback as rollbacks
    from pg_stat_database where datname = current_database()`;
  return { ...db, deadLetters: await deadLetters(admin) };
}

export function delta(before: Counters, after: Counters): Counters {
  return {
    deadlocks: after.deadlocks - before.deadlocks,
    rollbacks: after.rollbacks - before.rollbacks,
    deadLetters: after.deadLetters - before.deadLetters,
  };
}
