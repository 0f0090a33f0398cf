/**
 * Deadlines come from the database's clock: an order's `deadline_at` is the database's now() plus
 * ORDER_DEADLINE_MS, whatever the API host's clock says, and OrderCreated carries that same
 * instant. The host clock is faked an hour ahead in-process; the database's is the real one.
 */
import assert from "node:assert/strict";
import { placeOrder } from "../../src/orders/store.ts";
import { uuidv7 } from "../../src/platform/uuidv7.ts";
import { db, real, unique } from "../helpers/stack.ts";

Deno.test(
  "deadline: an order's deadline_at is the database's now() + the deadline",
  real,
  async () => {
    const sql = db(2);
    const productId = uuidv7();
    const userId = unique("clock-");
    const deadlineMs = 30_000;
    const realNow = Date.now;
    try {
      await sql`
      insert into products (id, name, price, stock, initial_stock)
      values (${productId}, 'clock', 100, 5, 5)`;
      // The API host's clock is an hour ahead of the database's.
      Date.now = () => realNow() + 3_600_000;
      let placed;
      try {
        placed = await placeOrder(sql, userId, { items: [{ productId, quantity: 1 }] }, deadlineMs);
      } finally {
        Date.now = realNow;
      }
      const [o] = await sql<{ deadline: Date; ms: number; early: boolean; late: boolean }[]>`
      select deadline_at as deadline,
             extract(epoch from deadline_at - created_at) * 1000 as ms,
             deadline_at < now() + make_interval(secs => ${deadlineMs / 1000 - 5}) as early,
             deadline_at > now() + make_interval(secs => ${deadlineMs / 1000}) as late
      from orders where id = ${placed.orderId}`;
      // created_at is the insert's now(); truncation to milliseconds takes at most 1 ms off.
      assert.ok(
        o.ms > deadlineMs - 1 && o.ms <= deadlineMs,
        `deadline_at - created_at = ${o.ms} ms`,
      );
      assert.equal(o.early, false, "not before the database's now() + deadline (5 s tolerance)");
      assert.equal(o.late, false, "not after the database's now() + deadline");
      const [e] = await sql<{ deadlineAt: string }[]>`
      select payload->>'deadlineAt' as "deadlineAt" from outbox
      where aggregateid = ${placed.orderId} and type = 'OrderCreated'`;
      assert.equal(
        Date.parse(e.deadlineAt),
        o.deadline.getTime(),
        "the event carries the same instant",
      );
      assert.match(e.deadlineAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    } finally {
      Date.now = realNow;
      await sql.end();
    }
  },
);
