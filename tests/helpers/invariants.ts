/**
 * Invariants 1-6 of ARCHITECTURE.md, checked over the entities a test created (its scope), once
 * the system is quiet: polled until they hold or the deadline passes, then the violations are
 * listed in the failure.
 */
import type { Sql } from "../../src/platform/db.ts";
import { waitFor } from "../../src/platform/wait_for.ts";

export interface Scope {
  productIds?: string[];
  couponIds?: string[];
  userIds?: string[];
}

/**
 * The saga's participants: each claims an order's OrderCreated and OrderCancelled once, the
 * redeemer only an order's with a coupon (other groups reading the order topic, such as the
 * best-sellers projection, are not counted).
 */
const PARTICIPANTS = ["inventory", "coupon-redeemer", "payment"];

/** Every violation of invariants 1-6 within `scope`, as sentences. */
export async function violations(sql: Sql, scope: Scope): Promise<string[]> {
  const out: string[] = [];
  const products = scope.productIds ?? [];
  const coupons = scope.couponIds ?? [];
  const users = scope.userIds ?? [];

  // 1. stock never negative; initial = current + sum of CONFIRMED quantities.
  for (
    const p of await sql<{ id: string; stock: number; initial: number; confirmed: number }[]>`
    select p.id, p.stock, p.initial_stock as initial,
           coalesce((select sum(i.quantity) from order_items i join orders o on o.id = i.order_id
                     where i.product_id = p.id and o.status = 'CONFIRMED'), 0)::int as confirmed
    from products p where p.id = any(${products}::uuid[])`
  ) {
    if (p.stock < 0) out.push(`1: product ${p.id} has negative stock ${p.stock}`);
    if (p.initial !== p.stock + p.confirmed) {
      out.push(
        `1: product ${p.id}: initial ${p.initial} != stock ${p.stock} + confirmed ${p.confirmed}`,
      );
    }
  }

  // 2. balance = charges - sum of CONFIRMED paymentAmount; never negative.
  for (
    const w of await sql<{ user_id: string; balance: number; charges: number; paid: number }[]>`
    select u.user_id, coalesce(w.balance, 0) as balance,
           coalesce((select sum(amount) from wallet_charges c where c.user_id = u.user_id), 0)::bigint as charges,
           coalesce((select sum(payment_amount) from orders o
                     where o.user_id = u.user_id and o.status = 'CONFIRMED'), 0)::bigint as paid
    from unnest(${users}::text[]) as u(user_id) left join wallets w on w.user_id = u.user_id`
  ) {
    if (w.balance < 0) out.push(`2: user ${w.user_id} has negative balance ${w.balance}`);
    if (w.balance !== w.charges - w.paid) {
      out.push(
        `2: user ${w.user_id}: balance ${w.balance} != charges ${w.charges} - confirmed payments ${w.paid}`,
      );
    }
  }

  // 3. a user coupon is USED iff exactly one CONFIRMED order used it.
  for (
    const uc of await sql<{ id: string; status: string; confirmed: number }[]>`
    select uc.id, uc.status,
           (select count(*) from orders o where o.user_coupon_id = uc.id and o.status = 'CONFIRMED')::int
             as confirmed
    from user_coupons uc
    where uc.user_id = any(${users}::text[]) or uc.coupon_id = any(${coupons}::uuid[])`
  ) {
    if (uc.confirmed > 1) {
      out.push(`3: user coupon ${uc.id} used by ${uc.confirmed} confirmed orders`);
    }
    if ((uc.status === "USED") !== (uc.confirmed === 1)) {
      out.push(`3: user coupon ${uc.id} is ${uc.status} with ${uc.confirmed} confirmed orders`);
    }
  }

  // 4. ISSUED = min(total, distinct requesting users); no user holds two; counters agree.
  for (
    const c of await sql<{
      id: string;
      total: number;
      issued_counter: number;
      issued: number;
      requesters: number;
      held: number;
      max_per_user: number;
    }[]>`
    select c.id, c.total_quantity as total, c.issued_quantity as issued_counter,
           (select count(*) from coupon_requests r where r.coupon_id = c.id and r.status = 'ISSUED')::int as issued,
           (select count(distinct user_id) from coupon_requests r where r.coupon_id = c.id)::int as requesters,
           (select count(*) from user_coupons uc where uc.coupon_id = c.id)::int as held,
           coalesce((select max(n) from (select count(*) as n from user_coupons uc
                     where uc.coupon_id = c.id group by uc.user_id) x), 0)::int as max_per_user
    from coupons c where c.id = any(${coupons}::uuid[])`
  ) {
    const expected = Math.min(c.total, c.requesters);
    if (c.issued !== expected) {
      out.push(`4: coupon ${c.id}: ${c.issued} ISSUED, expected min(${c.total}, ${c.requesters})`);
    }
    if (c.issued_counter !== c.issued || c.held !== c.issued) {
      out.push(
        `4: coupon ${c.id}: issuedQuantity ${c.issued_counter}, ISSUED ${c.issued}, held ${c.held} differ`,
      );
    }
    if (c.max_per_user > 1) out.push(`4: coupon ${c.id}: a user holds ${c.max_per_user}`);
  }

  // 5. every order and coupon request is terminal.
  const [pending] = await sql<{ orders: number; requests: number }[]>`
    select (select count(*) from orders where user_id = any(${users}::text[]) and status = 'PENDING')::int as orders,
           (select count(*) from coupon_requests where (coupon_id = any(${coupons}::uuid[])
              or user_id = any(${users}::text[])) and status = 'PENDING')::int as requests`;
  if (pending.orders > 0) out.push(`5: ${pending.orders} orders still PENDING`);
  if (pending.requests > 0) out.push(`5: ${pending.requests} coupon requests still PENDING`);

  // 6. each consumed event has exactly one effect: one participant record per order and step,
  // each OrderCreated claimed once per group, every step's reply recorded once.
  for (
    const o of await sql<{
      id: string;
      status: string;
      has_coupon: boolean;
      reservation: string | null;
      payment: string | null;
      redemption: string | null;
      created_claims: number;
      cancelled_claims: number;
    }[]>`
    select o.id, o.status, o.user_coupon_id is not null as has_coupon,
           (select status from inventory_reservations r where r.order_id = o.id) as reservation,
           (select status from payments p where p.order_id = o.id) as payment,
           (select status from coupon_redemptions c where c.order_id = o.id) as redemption,
           -- IN, not a join: an event replayed from a DLQ is in the outbox twice.
           (select count(*) from inbox i where i.consumer_group = any(${PARTICIPANTS}::text[])
              and i.event_id in (select e.id from outbox e
              where e.aggregateid = o.id::text and e.type = 'OrderCreated'))::int as created_claims,
           (select count(*) from inbox i where i.consumer_group = any(${PARTICIPANTS}::text[])
              and i.event_id in (select e.id from outbox e
              where e.aggregateid = o.id::text and e.type = 'OrderCancelled'))::int as cancelled_claims
    from orders o where o.user_id = any(${users}::text[])`
  ) {
    if (o.status === "PENDING") continue; // reported by 5
    // inventory and payment each claim OrderCreated (and OrderCancelled) once, coupon-redeemer
    // too if the order has a coupon (it skips the others' events without claiming them).
    const claims = o.has_coupon ? 3 : 2;
    if (o.created_claims !== claims) {
      out.push(
        `6: order ${o.id}: OrderCreated claimed ${o.created_claims} times, expected ${claims}`,
      );
    }
    if (o.status === "CANCELLED" && o.cancelled_claims !== claims) {
      out.push(
        `6: order ${o.id}: OrderCancelled claimed ${o.cancelled_claims} times, expected ${claims}`,
      );
    }
    if (o.status === "CONFIRMED") {
      if (o.reservation !== "RESERVED") {
        out.push(`6: confirmed order ${o.id} has reservation ${o.reservation}`);
      }
      if (o.payment !== "PAID") out.push(`6: confirmed order ${o.id} has payment ${o.payment}`);
      if (o.has_coupon && o.redemption !== "REDEEMED") {
        out.push(`6: confirmed order ${o.id} has redemption ${o.redemption}`);
      }
    } else {
      if (o.reservation === "RESERVED") out.push(`6: cancelled order ${o.id} still holds stock`);
      if (o.payment === "PAID") out.push(`6: cancelled order ${o.id} still holds a payment`);
      if (o.redemption === "REDEEMED") out.push(`6: cancelled order ${o.id} still holds a coupon`);
    }
  }
  return out;
}

/** Waits (with a deadline) until the scope satisfies invariants 1-6; throws listing what does not. */
export async function assertInvariants(sql: Sql, scope: Scope, timeoutMs = 60_000): Promise<void> {
  let last: string[] = [];
  try {
    await waitFor(async () => (last = await violations(sql, scope)).length === 0, {
      timeoutMs,
      intervalMs: 250,
      what: "invariants 1-6 to hold",
    });
  } catch {
    throw new Error(`Invariants violated after ${timeoutMs} ms:\n  ${last.join("\n  ")}`);
  }
}
