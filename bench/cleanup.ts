/**
 * Leaves the stack as the bench found it, after every run of every scenario:
 *
 * 1. Consumer groups. The bench writes events through the real write paths, so they go to the
 *    system's own topics (the relay routes by aggregate type; a scratch topic would need a
 *    second connector). Events no worker consumed during the run (all of the API scenario's:
 *    it runs no workers; the tail of the others' once their workers stop) would otherwise wait
 *    for the next `deno task dev`, whose workers spend minutes on rows that no longer exist.
 *    So, once the relay has published everything, each idle service group's committed offset
 *    is moved past the run's records, and only those: this stack is shared, and other
 *    engineers' tests run workers in the same groups and write to the same topics. The records
 *    past the committed offset are read and their keys checked against the run's orders,
 *    products, coupons and users; the offset moves up to the first record that is not the
 *    run's (or the end).
 *    A group with members (someone else's workers) is left alone, and reported.
 * 2. Rows. Every user the bench creates is named `<tag>-...` (pgbench's too), and the products
 *    and coupons it creates are recorded here, so its orders, saga rows, wallets, coupon
 *    requests, outbox rows (those events are in Kafka by then; the publication streams inserts
 *    only, so deletes never reach it) and their inbox claims are deleted. Unless some of the
 *    run's records are still to be consumed (behind another's record, or by someone else's
 *    running workers): then the rows stay, so that those records are applied like any other
 *    instead of failing on rows that are gone.
 * Dead letters the bench causes stay in the `shop.*.dlq` topics, for `deno task dlq list`; the
 * report counts them.
 */
import type { Config } from "../src/platform/config.ts";
import { connect, type Sql } from "../src/platform/db.ts";
import type { Admin, Kafka } from "../src/platform/kafka.ts";
import { SERVICES } from "../src/workers.ts";
import { waitFor } from "../src/platform/wait_for.ts";
import { drainRelay } from "./relay_drain.ts";

/** What one run created: its users' name prefix, products, coupons and start time. */
export class Scratch {
  readonly tag = `bench-${crypto.randomUUID().slice(0, 8)}`;
  readonly products: string[] = [];
  readonly coupons: string[] = [];
  /** Postgres's UTC clock when the run began (the outbox's `created_at` is UTC, no zone). */
  private constructor(readonly since: string) {}

  static async open(sql: Sql): Promise<Scratch> {
    const [{ now }] = await sql<{ now: string }[]>`
      select (clock_timestamp() at time zone 'utc')::text as now`;
    return new Scratch(now);
  }

  /** A user id (JWT `sub`) this run owns. */
  user(suffix: string | number): string {
    return `${this.tag}-${suffix}`;
  }
}

export interface GroupState {
  group: string;
  /** Members at the time (not ours once our workers stopped). */
  members: number;
  /** Records on its topics past its committed offsets. */
  backlog: number;
}

/** partition -> committed offset, or the low watermark when nothing is committed yet. */
async function positions(admin: Admin, group: string, topic: string) {
  const ends = await admin.fetchTopicOffsets(topic);
  const [c] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return ends.map((e) => {
    const committed = Number(c?.partitions.find((p) => p.partition === e.partition)?.offset);
    // Nothing committed: the consumers read from the beginning (`fromBeginning: true`).
    return {
      partition: e.partition,
      from: committed >= 0 ? committed : Number(e.low),
      end: Number(e.high),
    };
  });
}

/** Each service group's members and backlog. */
export async function serviceGroups(admin: Admin): Promise<GroupState[]> {
  const out: GroupState[] = [];
  for (const s of Object.values(SERVICES)) {
    const { groups: [d] } = await admin.describeGroups([s.group]);
    let backlog = 0;
    for (const t of s.topics) {
      for (const p of await positions(admin, s.group, t)) backlog += Math.max(0, p.end - p.from);
    }
    out.push({ group: s.group, members: d?.members.length ?? 0, backlog });
  }
  return out;
}

export interface Restored {
  /** Records skipped per group (moved past), and what was left for its consumers. */
  groups: { group: string; skipped: number; leftAlone?: string }[];
  deletedRows: number;
  /** Why the run's business rows were kept, if they were. */
  keptRows?: string;
  seconds: number;
}

/**
 * The offsets, per partition of `topic` from `from` (inclusive) to `end`, of records whose key
 * is not the run's: a throwaway consumer reads that range (the run's records are typically all
 * of it).
 */
async function foreignOffsets(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  range: Map<number, { from: number; end: number }>,
  ours: (key: string | undefined) => boolean,
): Promise<Map<number, number[]>> {
  const foreign = new Map<number, number[]>([...range.keys()].map((p) => [p, []]));
  const remaining = new Map(
    [...range].filter(([, r]) => r.end > r.from).map(([p, r]) => [p, r.end]),
  );
  if (remaining.size === 0) return foreign;
  const groupId = `bench-scan-${crypto.randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  // The relay's Connect task produces in transactions (exactly-once): each ends with a commit
  // marker, a control record that takes an offset but never reaches eachBatch, so a range often
  // ends on one. A batch's last offset counts the markers it read, also for a batch of markers
  // only, which kafkajs reports in this event without calling eachBatch.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const end = remaining.get(payload.partition);
    if (payload.topic === topic && end !== undefined && Number(payload.lastOffset) + 1 >= end) {
      remaining.delete(payload.partition);
    }
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        const end = remaining.get(batch.partition);
        if (end === undefined) return Promise.resolve();
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          if (offset >= end) break;
          if (!ours(m.key?.toString())) foreign.get(batch.partition)!.push(offset);
          if (offset + 1 >= end) remaining.delete(batch.partition);
        }
        return Promise.resolve();
      },
    });
    for (const [partition, r] of range) {
      consumer.seek({ topic, partition, offset: String(r.from) });
    }
    await waitFor(() => remaining.size === 0, {
      timeoutMs: 300_000,
      intervalMs: 100,
      what: `the unconsumed records of ${topic}`,
    });
    return foreign;
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => {});
  }
}

/** Whether a record key (an aggregate id) is one of the run's orders, products, coupons, users. */
async function ourKeys(sql: Sql, s: Scratch): Promise<(key: string | undefined) => boolean> {
  const orders = new Set(
    (await sql<{ id: string }[]>`
      select id::text as id from orders where user_id like ${`${s.tag}-%`}`).map((r) => r.id),
  );
  const ids = new Set([...s.products, ...s.coupons]);
  return (key) =>
    key !== undefined && (orders.has(key) || ids.has(key) || key.startsWith(`${s.tag}-`));
}

/**
 * Deletes the run's rows; with `business` false, only the relay scenario's outbox rows (no
 * service consumes those). Returns how many.
 */
async function deleteRows(sql: Sql, s: Scratch, business: boolean): Promise<number> {
  if (!business) {
    const r = await sql`delete from outbox
      where created_at >= ${s.since}::timestamp and aggregatetype like 'bench-%'`;
    return r.count;
  }
  const users = `${s.tag}-%`;
  return await sql.begin(async (tx) => {
    let n = 0;
    const count = (r: { count: number }) => (n += r.count);
    // A large enough work_mem keeps the lookups below hashed: the api scenario leaves ~100k
    // orders, and a subplan that spills is re-scanned per outbox row (minutes, not seconds).
    await tx`set local work_mem = '256MB'`;
    await tx`create temp table bench_orders on commit drop as
      select id::text as id from orders where user_id like ${users}`;
    await tx`analyze bench_orders`;
    // The run's events: keyed by its orders, products, coupons or users (wallet events), or of
    // the relay scenario's own aggregate types. Bounded by time: the outbox is indexed on it.
    await tx`create temp table bench_events on commit drop as
      select o.id from outbox o
      where o.created_at >= ${s.since}::timestamp
        and (o.aggregatetype like 'bench-%' or o.aggregateid like ${users}
          or o.aggregateid = any(${s.products}::text[]) or o.aggregateid = any(${s.coupons}::text[]))
      union
      select o.id from outbox o join bench_orders b on b.id = o.aggregateid
      where o.created_at >= ${s.since}::timestamp`;
    count(await tx`delete from inbox where event_id in (select id from bench_events)`);
    count(await tx`delete from outbox where id in (select id from bench_events)`);
    for (const table of ["order_steps", "order_items", "inventory_reservations", "payments"]) {
      count(
        await tx`delete from ${tx(table)} where order_id in (select id::uuid from bench_orders)`,
      );
    }
    count(
      await tx`delete from coupon_redemptions where order_id in (select id::uuid from bench_orders)`,
    );
    count(await tx`delete from orders where id in (select id::uuid from bench_orders)`);
    count(await tx`delete from idempotency_keys where user_id like ${users}`);
    count(await tx`delete from coupon_requests where coupon_id = any(${s.coupons}::uuid[])`);
    count(await tx`delete from user_coupons where coupon_id = any(${s.coupons}::uuid[])`);
    count(await tx`delete from coupons where id = any(${s.coupons}::uuid[])`);
    count(await tx`delete from wallet_charges where user_id like ${users}`);
    count(await tx`delete from wallets where user_id like ${users}`);
    count(await tx`delete from products where id = any(${s.products}::uuid[])`);
    // The best-sellers projection's rows of the run (its read model; applied_through only moves
    // forward and is left as it is).
    count(
      await tx`delete from best_sellers.pending_orders
        where order_id in (select id::uuid from bench_orders)`,
    );
    count(
      await tx`delete from best_sellers.hourly_units where product_id = any(${s.products}::uuid[])`,
    );
    return n;
  });
}

/**
 * Run after a run's processes stopped: waits for the relay, moves the idle service groups past
 * the run's unconsumed records, then deletes the run's rows, unless some of its records still
 * wait for a consumer (behind another's record, or in a group someone else is consuming with):
 * their rows are kept so that those consumers apply them like any other.
 */
export async function restore(
  cfg: Config,
  kafka: Kafka,
  admin: Admin,
  scratch: Scratch,
): Promise<Restored> {
  const started = performance.now();
  const sql = connect(cfg.databaseUrl, { max: 1, applicationName: "bench-cleanup" });
  try {
    // Every event of the run in Kafka first: one published later would land past the new offsets.
    await drainRelay(sql);
    const ours = await ourKeys(sql, scratch);
    // Our workers left on SIGTERM; a killed one stays a member until its session times out.
    const services = Object.values(SERVICES);
    const idle = async () => {
      const { groups } = await admin.describeGroups(services.map((s) => s.group));
      return new Set(
        groups.filter((g) => ["Empty", "Dead"].includes(g.state)).map((g) => g.groupId),
      );
    };
    let idleGroups = await idle();
    await waitFor(async () => (idleGroups = await idle()).size === services.length, {
      timeoutMs: 15_000,
      intervalMs: 500,
    }).catch(() => {});

    // Where each group stands, then one read per topic from the lowest of them.
    const stands = new Map<string, Awaited<ReturnType<typeof positions>>>();
    for (const s of services) {
      for (const t of s.topics) stands.set(`${s.group}\0${t}`, await positions(admin, s.group, t));
    }
    const foreign = new Map<string, Map<number, number[]>>();
    for (const t of new Set(services.flatMap((s) => s.topics))) {
      const range = new Map<number, { from: number; end: number }>();
      for (const [k, ps] of stands) {
        if (!k.endsWith(`\0${t}`)) continue;
        for (const p of ps) {
          const r = range.get(p.partition);
          range.set(p.partition, {
            from: Math.min(r?.from ?? Infinity, p.from),
            end: Math.max(r?.end ?? 0, p.end),
          });
        }
      }
      foreign.set(t, await foreignOffsets(kafka, admin, t, range, ours));
    }

    const groups: Restored["groups"] = [];
    let pendingOurs = 0;
    for (const s of services) {
      const active = !idleGroups.has(s.group);
      let skipped = 0;
      let pending = 0;
      for (const t of s.topics) {
        const moves: { partition: number; offset: string }[] = [];
        for (const p of stands.get(`${s.group}\0${t}`)!) {
          const others = foreign.get(t)!.get(p.partition) ?? [];
          // Up to the first record that is not the run's: that one and later stay to consume.
          const stop = active ? p.from : others.find((o) => o >= p.from) ?? p.end;
          pending += p.end - stop - others.filter((o) => o >= stop).length;
          if (stop > p.from) {
            moves.push({ partition: p.partition, offset: String(stop) });
            skipped += stop - p.from;
          }
        }
        if (moves.length) await admin.setOffsets({ groupId: s.group, topic: t, partitions: moves });
      }
      pendingOurs += pending;
      const why = active ? "it has members not the bench's" : "behind a record not the bench's";
      groups.push({
        group: s.group,
        skipped,
        ...(pending
          ? { leftAlone: `${pending} of the run's records left to consume (${why})` }
          : {}),
      });
    }
    const deletedRows = await deleteRows(sql, scratch, pendingOurs === 0);
    return {
      groups,
      deletedRows,
      ...(pendingOurs ? { keptRows: "some of its records still wait for a consumer" } : {}),
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    await sql.end();
  }
}
