/**
 * The participants (inventory, payment, coupon-redeemer, order-saga) decide a run set-based: one
 * read per table, every event decided in memory in offset order, one write. Differential property
 * test against the real database: a generated run (several orders over a few products, users and
 * coupons; an order's create and cancel in one run; replies out of order; duplicates; late events
 * past the deadline or after a decision; rows left by earlier runs) applied as one run and one
 * event at a time (a run of one each, as the consumer does with a single record) leaves the same
 * rows and the same outbox events, in the same order. Each side runs in a transaction that also
 * creates its fixtures and is rolled back: nothing is left behind, and both start from the same
 * state.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { db, real } from "../helpers/stack.ts";
import type { Sql, Tx } from "../../src/platform/db.ts";
import { claimAndApply } from "../../src/platform/consumer.ts";
import type { DecodedEvent } from "../../src/platform/decode_record.ts";
import type { Service } from "../../src/platform/service.ts";
import { logger, setLogLevel } from "../../src/platform/log.ts";
import { EVENTS } from "../../src/events/catalog.ts";
import { SERVICES } from "../../src/workers.ts";

setLogLevel("error");
const log = logger("set-based-test");
const RUNS = 40;

const PAST = "2000-01-01T00:00:00.000Z";
const FUTURE = "2100-01-01T00:00:00.000Z";
const deadline = fc.constantFrom(undefined, PAST, FUTURE, FUTURE);

const hex = (n: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, "0"))
    .join("");

/** A decoded event as the consumer hands it over; the payload is checked by the catalog. */
function decoded(type: keyof typeof EVENTS, payload: unknown, offset: number): DecodedEvent {
  const p = EVENTS[type].schema.parse(payload) as { orderId: string };
  return {
    id: crypto.randomUUID(),
    type,
    version: 1,
    key: p.orderId,
    payload: p,
    traceparent: `00-${hex(16)}-${hex(8)}-01`,
    topic: "test",
    partition: 0,
    offset: String(offset),
    timestamp: 0,
  };
}

/** Picks events by index: the same event twice is a duplicate (same id). */
const sequence = (count: number) =>
  fc.array(fc.nat({ max: count - 1 }), { minLength: 1, maxLength: 12 });

const ROLLBACK = new Error("rollback");

/** Runs `fn` in a transaction that is always rolled back; returns what it returned. */
async function rolledBack<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  let out: T | undefined;
  await sql.begin(async (tx) => {
    out = await fn(tx);
    throw ROLLBACK;
  }).catch((e) => {
    if (e !== ROLLBACK) throw e;
  });
  return out!;
}

/**
 * In one rolled-back transaction: `fixtures` as the owner, the events as the service's role
 * (one run, or a run per event), then `snapshot` of the rows and the outbox events of `keys`.
 */
async function applyAndSnapshot(
  sql: Sql,
  service: Service,
  schema: string,
  fixtures: (tx: Tx) => Promise<void>,
  events: DecodedEvent[],
  oneAtATime: boolean,
  snapshot: (tx: Tx) => Promise<unknown>,
  keys: string[],
): Promise<unknown> {
  return await rolledBack(sql, async (tx) => {
    await fixtures(tx);
    await tx.unsafe(`set local role ${service.role}`);
    await tx.unsafe(`set local search_path = ${schema}, platform`);
    if (oneAtATime) { for (const e of events) await claimAndApply(tx, service, [e], log); }
    else await claimAndApply(tx, service, events, log);
    await tx`reset role`;
    const rows = await snapshot(tx);
    const outbox = await tx`
      select type, aggregateid, payload, traceparent from platform.outbox
      where aggregateid = any(${keys}::text[]) order by id`;
    return { rows, outbox };
  });
}

interface Case {
  service: Service;
  schema: string;
  fixtures: (tx: Tx) => Promise<void>;
  events: DecodedEvent[];
  snapshot: (tx: Tx) => Promise<unknown>;
  /** The orders whose outbox events are compared. */
  keys: string[];
}

/** Applies `c` both ways and asserts the same outcome; returns how many events it published. */
async function differential(sql: Sql, c: Case): Promise<number> {
  const run = (oneAtATime: boolean) =>
    applyAndSnapshot(
      sql,
      c.service,
      c.schema,
      c.fixtures,
      c.events,
      oneAtATime,
      c.snapshot,
      c.keys,
    );
  const batch = await run(false);
  const single = await run(true);
  assert.deepEqual(batch, single);
  return (batch as { outbox: unknown[] }).outbox.length;
}

/** A test with its own pool, ended whatever happens. */
function withDb(fn: (sql: Sql) => Promise<void>): () => Promise<void> {
  return async () => {
    const sql = db(2);
    try {
      await fn(sql);
    } finally {
      await sql.end();
    }
  };
}

Deno.test({
  name: "set-based runs: inventory, one run = one event at a time (rows and outbox events)",
  ...real,
  fn: withDb(async (sql) => {
    let published = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          stock: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 3, maxLength: 3 }),
          orders: fc.array(
            fc.record({
              lines: fc.uniqueArray(
                fc.record({
                  product: fc.nat({ max: 2 }),
                  quantity: fc.integer({ min: 1, max: 3 }),
                }),
                { selector: (l) => l.product, minLength: 1, maxLength: 3 },
              ),
              deadlineAt: deadline,
              before: fc.constantFrom(null, null, null, "RESERVED", "REJECTED", "RELEASED"),
            }),
            { minLength: 1, maxLength: 4 },
          ),
          picks: sequence(8),
        }),
        async ({ stock, orders, picks }) => {
          const products = stock.map(() => crypto.randomUUID());
          const orderIds = orders.map(() => crypto.randomUUID());
          const user = `set-based-${hex(4)}`;
          const lines = (o: (typeof orders)[number]) =>
            o.lines.map((l) => ({ productId: products[l.product], quantity: l.quantity }));
          const all = orders.flatMap((o, n) => [
            decoded("OrderCreated", {
              orderId: orderIds[n],
              userId: user,
              items: lines(o).map((l) => ({ ...l, unitPrice: 100 })),
              userCouponId: null,
              totalAmount: 100,
              discountAmount: 0,
              paymentAmount: 100,
              deadlineAt: o.deadlineAt,
            }, 0),
            decoded("OrderCancelled", {
              orderId: orderIds[n],
              userId: user,
              userCouponId: null,
              reason: "OUT_OF_STOCK",
            }, 0),
          ]);
          const events = picks.map((i, offset) => ({
            ...all[i % all.length],
            offset: `${offset}`,
          }));
          const fixtures = async (tx: Tx) => {
            await tx`
              insert into inventory.products (id, name, price, stock, initial_stock)
              select id, 'set-based', 100, stock, 10
              from unnest(${products}::uuid[], ${stock}::int[]) as p(id, stock)`;
            for (const [n, o] of orders.entries()) {
              if (!o.before) continue;
              await tx`
                insert into inventory.inventory_reservations (order_id, status, items)
                values (${orderIds[n]}, ${o.before},
                        ${tx.json(o.before === "RESERVED" ? lines(o) : [])})`;
            }
          };
          const snapshot = async (tx: Tx) => ({
            stock: await tx`
              select id, stock from inventory.products where id = any(${products}::uuid[])
              order by id`,
            reservations: await tx`
              select order_id, status, items from inventory.inventory_reservations
              where order_id = any(${orderIds}::uuid[]) order by order_id`,
          });
          published += await differential(sql, {
            service: SERVICES.inventory,
            schema: "inventory",
            fixtures,
            events,
            snapshot,
            keys: orderIds,
          });
        },
      ),
      { numRuns: RUNS },
    );
    // The runs did something: events were published (else equal outboxes prove little).
    assert.ok(published > RUNS / 5, `only ${published} events published in ${RUNS} runs`);
  }),
});

Deno.test({
  name: "set-based runs: payment, one run = one event at a time (rows and outbox events)",
  ...real,
  fn: withDb(async (sql) => {
    let published = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          balances: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 2, maxLength: 2 }),
          secondHasWallet: fc.boolean(),
          orders: fc.array(
            fc.record({
              user: fc.nat({ max: 1 }),
              amount: fc.constantFrom(0, 100, 250, 600),
              deadlineAt: deadline,
              before: fc.constantFrom(null, null, null, "PAID", "FAILED", "REFUNDED"),
            }),
            { minLength: 1, maxLength: 4 },
          ),
          picks: sequence(8),
        }),
        async ({ balances, secondHasWallet, orders, picks }) => {
          const users = balances.map(() => `set-based-${hex(6)}`);
          const orderIds = orders.map(() => crypto.randomUUID());
          const all = orders.flatMap((o, n) => [
            decoded("OrderCreated", {
              orderId: orderIds[n],
              userId: users[o.user],
              items: [{ productId: crypto.randomUUID(), quantity: 1, unitPrice: o.amount }],
              userCouponId: null,
              totalAmount: o.amount,
              discountAmount: 0,
              paymentAmount: o.amount,
              deadlineAt: o.deadlineAt,
            }, 0),
            decoded("OrderCancelled", {
              orderId: orderIds[n],
              userId: users[o.user],
              userCouponId: null,
              reason: "OUT_OF_STOCK",
            }, 0),
          ]);
          const events = picks.map((i, offset) => ({
            ...all[i % all.length],
            offset: `${offset}`,
          }));
          const wallets = secondHasWallet ? users : users.slice(0, 1);
          const fixtures = async (tx: Tx) => {
            await tx`
              insert into wallet.wallets (user_id, balance)
              select * from unnest(${wallets}::text[], ${
              balances.slice(0, wallets.length)
            }::bigint[])`;
            for (const [n, o] of orders.entries()) {
              if (!o.before) continue;
              await tx`
                insert into wallet.payments (order_id, user_id, amount, status)
                values (${orderIds[n]}, ${users[o.user]}, ${o.amount}, ${o.before})`;
            }
          };
          const snapshot = async (tx: Tx) => ({
            wallets: await tx`
              select user_id, balance from wallet.wallets where user_id = any(${users}::text[])
              order by user_id`,
            payments: await tx`
              select order_id, user_id, amount, status from wallet.payments
              where order_id = any(${orderIds}::uuid[]) order by order_id`,
          });
          published += await differential(sql, {
            service: SERVICES.payment,
            schema: "wallet",
            fixtures,
            events,
            snapshot,
            keys: orderIds,
          });
        },
      ),
      { numRuns: RUNS },
    );
    assert.ok(published > RUNS / 5, `only ${published} events published in ${RUNS} runs`);
  }),
});

Deno.test({
  name: "set-based runs: coupon-redeemer, one run = one event at a time (rows and outbox events)",
  ...real,
  fn: withDb(async (sql) => {
    let published = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          userCoupons: fc.array(
            fc.record({
              user: fc.nat({ max: 1 }),
              expired: fc.boolean(),
              used: fc.boolean(),
            }),
            { minLength: 3, maxLength: 3 },
          ),
          orders: fc.array(
            fc.record({
              user: fc.nat({ max: 1 }),
              coupon: fc.option(fc.nat({ max: 2 }), { freq: 4 }),
              deadlineAt: deadline,
              before: fc.constantFrom(null, null, null, "REDEEMED", "REJECTED", "RESTORED"),
            }),
            { minLength: 1, maxLength: 4 },
          ),
          picks: sequence(8),
        }),
        async ({ userCoupons, orders, picks }) => {
          const users = [`set-based-${hex(6)}`, `set-based-${hex(6)}`];
          // A coupon per user coupon (one of a coupon per user is a unique key).
          const coupons = userCoupons.map(() => crypto.randomUUID());
          const ucIds = userCoupons.map(() => crypto.randomUUID());
          const orderIds = orders.map(() => crypto.randomUUID());
          const otherOrder = crypto.randomUUID(); // used a coupon before the run
          const couponOf = (o: (typeof orders)[number]) =>
            o.coupon === null ? null : ucIds[o.coupon];
          const all = orders.flatMap((o, n) => [
            decoded("OrderCreated", {
              orderId: orderIds[n],
              userId: users[o.user],
              items: [{ productId: crypto.randomUUID(), quantity: 1, unitPrice: 100 }],
              userCouponId: couponOf(o),
              totalAmount: 100,
              discountAmount: 0,
              paymentAmount: 100,
              deadlineAt: o.deadlineAt,
            }, 0),
            decoded("OrderCancelled", {
              orderId: orderIds[n],
              userId: users[o.user],
              userCouponId: couponOf(o),
              reason: "INSUFFICIENT_BALANCE",
            }, 0),
          ]);
          const events = picks.map((i, offset) => ({
            ...all[i % all.length],
            offset: `${offset}`,
          }));
          const fixtures = async (tx: Tx) => {
            await tx`
              insert into coupons.coupons (id, name, discount_type, discount_value, total_quantity,
                                           issued_quantity, expires_at)
              select id, 'set-based', 'fixed', 100, 10, 1, case when expired then ${PAST}::timestamptz end
              from unnest(${coupons}::uuid[], ${
              userCoupons.map((u) => String(u.expired))
            }::text[]::bool[])
                as c(id, expired)`;
            for (const [n, uc] of userCoupons.entries()) {
              await tx`
                insert into coupons.user_coupons (id, coupon_id, user_id, status, order_id, used_at)
                values (${ucIds[n]}, ${coupons[n]}, ${users[uc.user]},
                        ${uc.used ? "USED" : "AVAILABLE"},
                        ${uc.used ? otherOrder : null}, ${uc.used ? PAST : null})`;
            }
            for (const [n, o] of orders.entries()) {
              const uc = couponOf(o);
              if (!o.before || !uc) continue;
              await tx`
                insert into coupons.coupon_redemptions (order_id, user_coupon_id, status)
                values (${orderIds[n]}, ${uc}, ${o.before})`;
              if (o.before === "REDEEMED") {
                await tx`
                  update coupons.user_coupons set status = 'USED', order_id = ${orderIds[n]}
                  where id = ${uc}`;
              }
            }
          };
          const snapshot = async (tx: Tx) => ({
            userCoupons: await tx`
              select id, status, order_id, used_at is not null as used
              from coupons.user_coupons where id = any(${ucIds}::uuid[]) order by id`,
            redemptions: await tx`
              select order_id, user_coupon_id, status from coupons.coupon_redemptions
              where order_id = any(${orderIds}::uuid[]) order by order_id`,
          });
          published += await differential(sql, {
            service: SERVICES["coupon-redeemer"],
            schema: "coupons",
            fixtures,
            events,
            snapshot,
            keys: orderIds,
          });
        },
      ),
      { numRuns: RUNS },
    );
    assert.ok(published > RUNS / 5, `only ${published} events published in ${RUNS} runs`);
  }),
});

const REPLIES = [
  ["InventoryReserved", {}],
  ["InventoryRejected", { reason: "OUT_OF_STOCK" }],
  ["CouponRedeemed", { userCouponId: "" }],
  ["CouponRedemptionRejected", { userCouponId: "", reason: "COUPON_UNAVAILABLE" }],
  ["PaymentCompleted", { userId: "", amount: 100 }],
  ["PaymentFailed", { userId: "", reason: "INSUFFICIENT_BALANCE" }],
] as const;
const STEPS = ["inventory", "coupon", "payment"] as const;

Deno.test({
  name: "set-based runs: order-saga, one run = one event at a time (rows and outbox events)",
  ...real,
  fn: withDb(async (sql) => {
    let published = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          orders: fc.array(
            fc.record({
              hasCoupon: fc.boolean(),
              status: fc.constantFrom("PENDING", "PENDING", "PENDING", "CONFIRMED", "CANCELLED"),
              steps: fc.array(
                fc.record({ step: fc.nat({ max: 2 }), ok: fc.boolean() }),
                { maxLength: 2 },
              ),
            }),
            { minLength: 1, maxLength: 3 },
          ),
          picks: sequence(18),
        }),
        async ({ orders, picks }) => {
          const user = `set-based-${hex(6)}`;
          const coupon = crypto.randomUUID();
          const orderIds = orders.map(() => crypto.randomUUID());
          const ucIds = orders.map(() => crypto.randomUUID());
          // The ok replies weigh more, so orders get confirmed as well as cancelled.
          const all = orders.flatMap((_, n) =>
            [0, 2, 4, 0, 2, 4, 1, 3, 5].map((r) => {
              const [type, extra] = REPLIES[r];
              const payload: Record<string, unknown> = { orderId: orderIds[n], ...extra };
              if ("userCouponId" in payload) payload.userCouponId = ucIds[n];
              if ("userId" in payload) payload.userId = user;
              return decoded(type, payload, 0);
            })
          );
          const events = picks.map((i, offset) => ({
            ...all[i % all.length],
            offset: `${offset}`,
          }));
          const fixtures = async (tx: Tx) => {
            await tx`
              insert into coupons.coupons (id, name, discount_type, discount_value, total_quantity)
              values (${coupon}, 'set-based', 'fixed', 100, 10)`;
            await tx`
              insert into coupons.user_coupons (id, coupon_id, user_id)
              select id, ${coupon}, ${user} || '-' || n from unnest(${ucIds}::uuid[])
                with ordinality as u(id, n)`;
            for (const [n, o] of orders.entries()) {
              await tx`
                insert into orders.orders (id, user_id, status, user_coupon_id, total_amount,
                                           discount_amount, payment_amount, cancel_reason,
                                           deadline_at)
                values (${orderIds[n]}, ${user}, ${o.status}, ${o.hasCoupon ? ucIds[n] : null},
                        100, 0, 100, ${o.status === "CANCELLED" ? "TIMEOUT" : null}, ${FUTURE})`;
              const steps = new Map(o.steps.map((s) => [STEPS[s.step], s.ok]));
              for (const [step, ok] of steps) {
                await tx`
                  insert into orders.order_steps (order_id, step, ok, reason)
                  values (${orderIds[n]}, ${step}, ${ok}, ${ok ? null : "OUT_OF_STOCK"})`;
              }
            }
          };
          const snapshot = async (tx: Tx) => ({
            orders: await tx`
              select id, status, cancel_reason from orders.orders
              where id = any(${orderIds}::uuid[]) order by id`,
            steps: await tx`
              select order_id, step, ok, reason from orders.order_steps
              where order_id = any(${orderIds}::uuid[]) order by order_id, step`,
          });
          published += await differential(sql, {
            service: SERVICES["order-saga"],
            schema: "orders",
            fixtures,
            events,
            snapshot,
            keys: orderIds,
          });
        },
      ),
      { numRuns: RUNS },
    );
    assert.ok(published > RUNS / 5, `only ${published} events published in ${RUNS} runs`);
  }),
});
