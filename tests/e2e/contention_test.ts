/**
 * Row contention end to end: 500 orders over one product from 12 wallets, placed by 48
 * concurrent clients, keys (random UUIDv7 order ids) spread over every partition. Runs of
 * different partitions lock the same product and wallets; locking every row up front in key
 * order means they wait for each other and never deadlock.
 */
import assert from "node:assert/strict";
import { real } from "../helpers/stack.ts";
import { system } from "../helpers/system.ts";
import { assertInvariants } from "../helpers/invariants.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import type { Sql } from "../../src/platform/db.ts";

const ORDERS = 500;
const CLIENTS = 48;

async function deadlocks(sql: Sql): Promise<number> {
  const [r] = await sql<{ n: string }[]>`
    select deadlocks::text as n from pg_stat_database where datname = current_database()`;
  return Number(r.n);
}

Deno.test(
  "e2e contention: 500 orders, one product, 12 wallets: all CONFIRMED, 0 deadlocks",
  real,
  async () => {
    const sys = await system({ pool: CLIENTS });
    try {
      const product = await sys.product(100, ORDERS);
      const users = await Promise.all(Array.from({ length: 12 }, () => sys.user(100 * ORDERS)));
      const before = await deadlocks(sys.sql);
      const deadLettersBefore =
        (await sys.sql`select count(*)::int as n from dead_letter_log`)[0].n;

      const orders: { id: string; token: string }[] = [];
      let next = 0;
      await Promise.all(Array.from({ length: CLIENTS }, async () => {
        while (next < ORDERS) {
          const user = users[next++ % users.length];
          const r = await sys.call("POST", "/orders", {
            token: user.token,
            body: { items: [{ productId: product, quantity: 1 }] },
          });
          assert.equal(r.status, 202, JSON.stringify(r.body));
          orders.push({ id: r.body.orderId, token: user.token });
        }
      }));
      assert.equal(orders.length, ORDERS);

      const ids = orders.map((o) => o.id);
      const statuses = await waitFor(async () => {
        const rows = await sys.sql<{ status: string; n: number }[]>`
        select status, count(*)::int as n from orders where id = any(${ids}::uuid[])
        group by status`;
        const by = Object.fromEntries(rows.map((r) => [r.status, r.n]));
        return (by.PENDING ?? 0) === 0 ? by : undefined;
      }, { timeoutMs: 120_000, intervalMs: 200, what: `${ORDERS} orders to settle` });
      assert.deepEqual(statuses, { CONFIRMED: ORDERS });
      const [{ stock }] = await sys.sql`select stock from products where id = ${product}`;
      assert.equal(stock, 0);
      assert.equal(await deadlocks(sys.sql), before, "deadlocks during the run");
      const deadLettersAfter = (await sys.sql`select count(*)::int as n from dead_letter_log`)[0].n;
      assert.equal(deadLettersAfter, deadLettersBefore, "records dead-lettered during the run");
      await assertInvariants(sys.sql, sys.scope);
    } finally {
      await sys.close();
    }
  },
);
