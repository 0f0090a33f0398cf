/**
 * What the console reads from Postgres: the relay's slot, orders and FCFS requests, the saga's
 * timeouts by missing step, commit-to-consume latency per group (outbox creation to inbox claim)
 * and dead letters recorded per group. Each query is bounded (indexes, LIMITs) because the page
 * asks every second.
 */
import type { Sql } from "../platform/db.ts";

export interface SlotState {
  slot: string;
  active: boolean;
  lagBytes: number;
  /** Postgres' flush_lag of the relay's walsender; null while the relay is not connected. */
  lagSeconds: number | null;
}

export async function slotState(sql: Sql): Promise<SlotState[]> {
  return await sql<SlotState[]>`
    select s.slot_name as slot, s.active,
           coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn), 0)::float8
             as "lagBytes",
           case when r.pid is null then null
                else coalesce(extract(epoch from r.flush_lag), 0)::float8 end as "lagSeconds"
    from pg_replication_slots s
    left join pg_stat_replication r on r.pid = s.active_pid
    where s.slot_type = 'logical'
    order by s.slot_name`;
}

export interface OrderState {
  byStatus: Record<string, number>;
  oldestPendingSeconds: number;
  /** Orders cancelled with TIMEOUT, per required step that had not succeeded. */
  timeoutsByMissingStep: Record<string, number>;
  /** FCFS requests not decided yet, per coupon (top 20). */
  fcfsPending: { couponId: string; name: string; pending: number }[];
}

export async function orderState(sql: Sql): Promise<OrderState> {
  const [byStatus, [oldest], timeouts, fcfs] = await Promise.all([
    sql<{ status: string; n: number }[]>`
      select status, count(*)::int as n from orders group by status`,
    sql<{ age: number | null }[]>`
      select extract(epoch from now() - min(created_at))::float8 as age
      from orders where status = 'PENDING'`,
    // The same rule as the saga's sweep: a required step is missing unless it replied ok.
    sql<{ step: string; n: number }[]>`
      select req.step, count(*)::int as n
      from orders o
      cross join lateral (values ('inventory', true), ('payment', true),
                                 ('coupon', o.user_coupon_id is not null)) as req(step, needed)
      left join order_steps s on s.order_id = o.id and s.step = req.step and s.ok
      where o.status = 'CANCELLED' and o.cancel_reason = 'TIMEOUT' and req.needed
        and s.order_id is null
      group by req.step`,
    sql<{ couponId: string; name: string; pending: number }[]>`
      select r.coupon_id as "couponId", c.name, count(*)::int as pending
      from coupon_requests r join coupons c on c.id = r.coupon_id
      where r.status = 'PENDING'
      group by r.coupon_id, c.name order by pending desc limit 20`,
  ]);
  return {
    byStatus: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
    oldestPendingSeconds: oldest?.age ?? 0,
    timeoutsByMissingStep: Object.fromEntries(timeouts.map((r) => [r.step, r.n])),
    fcfsPending: fcfs,
  };
}

/**
 * p99 of (inbox claim - outbox creation) over a group's last 1000 events claimed within the last
 * minute, in seconds; null when the group applied nothing lately. Event ids are UUIDv7, so the
 * inbox primary key read backwards is newest first, whatever the table's size.
 */
export async function commitToConsumeP99(sql: Sql, group: string): Promise<number | null> {
  const [r] = await sql<{ p99: number | null }[]>`
    select percentile_cont(0.99) within group (
             order by extract(epoch from i.processed_at - (o.created_at at time zone 'utc')))::float8
             as p99
    from (select event_id, processed_at from inbox where consumer_group = ${group}
          order by event_id desc limit 1000) i
    join outbox o on o.id = i.event_id and o.replayed_from = '' -- one row per event
    where i.processed_at > now() - interval '60 seconds'`;
  return r?.p99 ?? null;
}

/** Dead letters recorded per consumer group (every one, replayed or not). */
export async function deadLettersByGroup(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql<{ group: string; n: number }[]>`
    select consumer_group as group, count(*)::int as n from dead_letter_log group by 1`;
  return Object.fromEntries(rows.map((r) => [r.group, r.n]));
}
