/**
 * The monolith limit: bench/pgbench/monolith_order.sql, an order's whole business work in one
 * transaction (order, line, coupon, wallet, stock, CONFIRMED; no outbox, no inbox), run by
 * pgbench at a fixed client count as the owner: bench tooling spanning every service's schema,
 * which no service role may. The orders scenario measures it right before the event-driven
 * pipeline (monolith, pipeline, monolith, pipeline, ...) on fixtures of the same shape: one
 * product of large stock, 200 users with large balances, and here some coupons for each user.
 *
 * The fixtures are written straight into the tables (no API runs yet; no event is needed, since
 * no worker takes part) and recorded in the run's scratch, so the run's clean-up deletes them
 * with its orders, as it does the pipeline's.
 */
import type { Config } from "../src/platform/config.ts";
import type { Sql } from "../src/platform/db.ts";
import type { Scratch } from "./cleanup.ts";
import { pgbench } from "./pgbench.ts";

export interface MonolithLoad {
  /** pgbench clients (-c). */
  clients: number;
  seconds: number;
  /** Users (wallets) the orders come from, as the pipeline's. */
  users: number;
  /** Share of orders that use a coupon, %. */
  couponPercent: number;
  /** Coupons each user holds (one per coupon definition): enough that none runs out. */
  couponsPerUser: number;
}

export interface MonolithResult {
  clients: number;
  seconds: number;
  /** pgbench transactions/s: confirmed orders/s. */
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Transactions completed: confirmed orders. */
  orders: number;
  /** Of them, with a coupon used (a user without one left orders without). */
  withCoupon: number;
}

/** Same price and stock as the pipeline's product (order_latency.ts). */
const PRICE = 100;
const STOCK = 1_000_000_000;
const BALANCE = 1_000_000_000;
const DISCOUNT = 10;

/** Creates the fixtures under `scratch`'s names; returns the pgbench variables. */
async function seed(sql: Sql, scratch: Scratch, load: MonolithLoad) {
  const users = scratch.user("mono");
  const [product] = await sql<{ id: string }[]>`
    insert into inventory.products (id, name, price, stock, initial_stock)
    values (gen_random_uuid(), 'monolith', ${PRICE}, ${STOCK}, ${STOCK}) returning id`;
  scratch.products.push(product.id);
  await sql`
    insert into wallet.wallets (user_id, balance)
    select ${users} || '-' || u, ${BALANCE} from generate_series(1, ${load.users}) u`;
  const coupons = await sql<{ id: string }[]>`
    insert into coupons.coupons
      (id, name, discount_type, discount_value, total_quantity, issued_quantity)
    select gen_random_uuid(), 'monolith', 'fixed', ${DISCOUNT}, ${load.users}, ${load.users}
    from generate_series(1, ${load.couponsPerUser})
    returning id`;
  scratch.coupons.push(...coupons.map((c) => c.id));
  await sql`
    insert into coupons.user_coupons (id, coupon_id, user_id)
    select gen_random_uuid(), c.id, ${users} || '-' || u
    from unnest(${coupons.map((c) => c.id)}::uuid[]) as c(id)
      cross join generate_series(1, ${load.users}) u`;
  return {
    product: product.id,
    users,
    user_count: String(load.users),
    coupon_percent: String(load.couponPercent),
  };
}

/** Seeds, then runs the script; the orders are the run's, for its clean-up. */
export async function monolithOrders(
  cfg: Config,
  sql: Sql,
  scratch: Scratch,
  load: MonolithLoad,
  /** Wraps the pgbench run alone (not the seeding): a usage or statement window. */
  measure: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn(),
): Promise<MonolithResult> {
  const vars = await seed(sql, scratch, load);
  const phase = await measure(() =>
    pgbench(cfg, "monolith_order.sql", vars, load.clients, load.seconds)
  );
  const [counts] = await sql<{ orders: number; with_coupon: number }[]>`
    select count(*)::int as orders, count(user_coupon_id)::int as with_coupon
    from orders.orders where user_id like ${`${vars.users}-%`} and status = 'CONFIRMED'`;
  return {
    clients: load.clients,
    seconds: load.seconds,
    perSecond: phase.perSecond,
    p50Ms: phase.p50Ms,
    p99Ms: phase.p99Ms,
    orders: phase.total,
    withCoupon: counts.with_coupon,
  };
}
