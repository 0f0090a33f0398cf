/**
 * Deadline sweeps with several instances of a service: two order-saga instances (two pools,
 * as two processes would have) sweep the same overdue orders at once, in small batches so their
 * transactions interleave; each order is cancelled once, with exactly one OrderCancelled.
 */
import assert from "node:assert/strict";
import { sweepOverdueOrders } from "../../src/orders/saga.ts";
import type { Fields, Logger } from "../../src/platform/log.ts";
import { uuidv7 } from "../../src/platform/uuidv7.ts";
import { db, real, unique } from "../helpers/stack.ts";

const ORDERS = 300;

Deno.test(
  "order-saga sweep: two instances sweeping at once cancel each overdue order exactly once",
  real,
  async () => {
    const instances = [db(2), db(2)];
    try {
      const user = unique("sweep-");
      const ids = Array.from({ length: ORDERS }, () => uuidv7());
      await instances[0]`
        insert into orders ${
        instances[0](ids.map((id) => ({
          id,
          user_id: user,
          total_amount: 100,
          discount_amount: 0,
          payment_amount: 100,
          deadline_at: new Date(Date.now() - 1000),
        })))
      }`;
      // Both pools connected before the race, so neither starts late by a connection set-up.
      await Promise.all(instances.map((sql) => sql`select 1`));
      // Each instance sweeps until it finds nothing it can take: rows the other holds are
      // skipped (skip locked), and the other finishes them before it stops in turn. The sweep
      // logs every order it times out: that says which instance took which order.
      const took = instances.map(() => [] as string[]);
      await Promise.all(instances.map(async (sql, i) => {
        const log = recorder(took[i]);
        while ((await sweepOverdueOrders(sql, log, 7)) > 0) { /* next batch */ }
      }));

      const sql = instances[0];
      const statuses = await sql<{ status: string; cancel_reason: string; n: number }[]>`
        select status, cancel_reason, count(*)::int as n from orders
        where id = any(${ids}::uuid[]) group by 1, 2`;
      assert.deepEqual(
        statuses.map((r) => ({ ...r })),
        [{ status: "CANCELLED", cancel_reason: "TIMEOUT", n: ORDERS }],
      );
      const events = await sql<{ n: number; orders: number }[]>`
        select count(*)::int as n, count(distinct aggregateid)::int as orders from outbox
        where type = 'OrderCancelled' and aggregateid = any(${ids}::text[])`;
      assert.deepEqual({ ...events[0] }, { n: ORDERS, orders: ORDERS }, "one OrderCancelled each");
      // No order was timed out by both instances, and the race was real: each took some.
      const mine = new Set(ids);
      const [a, b] = took.map((list) => list.filter((id) => mine.has(id)));
      assert.equal(a.length + b.length, ORDERS);
      assert.equal(new Set([...a, ...b]).size, ORDERS);
      assert.ok(
        a.length > 0 && b.length > 0,
        `one instance took them all: ${a.length}/${b.length}`,
      );
    } finally {
      await Promise.all(instances.map((sql) => sql.end()));
    }
  },
);

/** A logger that records the order id of every "order timed out" line. */
function recorder(into: string[]): Logger {
  const log: Logger = {
    debug: () => {},
    info: (msg: string, fields?: Fields) => {
      if (msg === "order timed out") into.push(String(fields?.orderId));
    },
    warn: () => {},
    error: () => {},
    child: () => log,
  };
  return log;
}
