/**
 * The best-sellers projection end to end: orders through the whole saga, some confirmed, some
 * cancelled (out of stock, insufficient balance); GET /products/best-sellers equals a direct count
 * over CONFIRMED orders of the test's own products. Then the projection is rebuilt from the log
 * with `deno task projections:rebuild best-sellers` (refused while its worker runs; run with the
 * worker stopped) and answers the same after its worker replays.
 */
import assert from "node:assert/strict";
import { real } from "../helpers/stack.ts";
import { type System, system } from "../helpers/system.ts";
import { ownWorkers } from "../helpers/e2e_env.ts";
import { waitFor } from "../../src/platform/wait_for.ts";

const REBUILD_TS = new URL("../../src/main/projections_rebuild.ts", import.meta.url).pathname;
/** Covers the orders of this test even when the hour turns while it runs. */
const HOURS = 2;

type Answer = { items: { productId: string; name: string; unitsSold: number }[]; asOf: string };

async function bestSellers(sys: System, token: string): Promise<Answer> {
  const r = await sys.call("GET", `/products/best-sellers?hours=${HOURS}&limit=100`, { token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** The answer's units for `products` (0 for one it does not list). */
const unitsOf = (a: Answer, products: string[]) =>
  Object.fromEntries(
    products.map((p) => [p, a.items.find((i) => i.productId === p)?.unitsSold ?? 0]),
  );

/** Units in CONFIRMED orders per product, counted in the orders service's own tables. */
async function confirmedUnits(sys: System, products: string[]) {
  const rows = await sys.sql<{ product_id: string; units: number }[]>`
    select i.product_id, sum(i.quantity)::int as units
    from orders.order_items i join orders.orders o on o.id = i.order_id
    where o.status = 'CONFIRMED' and i.product_id = any(${products}::uuid[])
    group by i.product_id`;
  return Object.fromEntries(
    products.map((p) => [p, rows.find((r) => r.product_id === p)?.units ?? 0]),
  );
}

async function rebuild(): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", REBUILD_TS, "best-sellers"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

Deno.test(
  "e2e best sellers: equal to a count over CONFIRMED orders; the same after a rebuild",
  { ...real, ...ownWorkers },
  async (t) => {
    const sys = await system();
    try {
      // Large quantities, so the test's products lead the window over what other tests sold.
      const products = await Promise.all([
        sys.product(1, 1_000_000),
        sys.product(1, 1_000_000),
        sys.product(1, 1_000_000),
      ]);
      const scarce = await sys.product(1, 1000); // some orders of it run out of stock
      const ours = [...products, scarce];
      const rich = await Promise.all(Array.from({ length: 4 }, () => sys.user(100_000_000)));
      const poor = await sys.user(10); // every order of theirs lacks balance

      const orders: { token: string; id: string }[] = [];
      const place = async (
        token: string,
        items: { productId: string; quantity: number }[],
      ) => {
        const r = await sys.call("POST", "/orders", { token, body: { items } });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        orders.push({ token, id: r.body.orderId });
      };
      await t.step("a mixed load: confirmed, out of stock, insufficient balance", async () => {
        const [a, b, c] = products;
        await Promise.all([
          place(rich[0].token, [{ productId: a, quantity: 900 }]),
          place(rich[1].token, [{ productId: a, quantity: 700 }, { productId: b, quantity: 300 }]),
          place(rich[2].token, [{ productId: b, quantity: 800 }, { productId: c, quantity: 50 }]),
          place(rich[3].token, [{ productId: c, quantity: 999 }]),
          place(rich[0].token, [{ productId: scarce, quantity: 600 }]),
          place(rich[1].token, [{ productId: scarce, quantity: 600 }]), // one of these two fails
          place(rich[2].token, [{ productId: a, quantity: 1000 }, {
            productId: scarce,
            quantity: 1,
          }]),
          place(poor.token, [{ productId: a, quantity: 500 }]),
          place(poor.token, [{ productId: b, quantity: 400 }, { productId: c, quantity: 400 }]),
          place(rich[3].token, [{ productId: b, quantity: 250 }]),
        ]);
        const settled = await Promise.all(orders.map((o) => sys.settledOrder(o.token, o.id)));
        const statuses = settled.map((o) =>
          `${o.status}${o.cancelReason ? ` ${o.cancelReason}` : ""}`
        );
        assert.ok(statuses.includes("CONFIRMED"), statuses.join(", "));
        assert.ok(statuses.includes("CANCELLED OUT_OF_STOCK"), statuses.join(", "));
        assert.ok(statuses.includes("CANCELLED INSUFFICIENT_BALANCE"), statuses.join(", "));
      });

      let before!: Answer;
      await t.step(
        "GET /products/best-sellers equals the count over CONFIRMED orders",
        async () => {
          const expected = await confirmedUnits(sys, ours);
          assert.ok(Object.values(expected).some((n) => n > 0));
          // A read model: it may lag behind the orders' decisions, so poll with a deadline.
          before = await waitFor(async () => {
            const a = await bestSellers(sys, rich[0].token);
            const got = unitsOf(a, ours);
            return JSON.stringify(got) === JSON.stringify(expected) ? a : undefined;
          }, { timeoutMs: 60_000, intervalMs: 200, what: "best sellers to equal the SQL count" })
            .catch(async (err) => {
              const got = unitsOf(await bestSellers(sys, rich[0].token), ours);
              assert.deepEqual(got, expected, String(err));
              throw err;
            });
          // Most first; names from inventory; asOf the time of an event applied lately.
          const units = before.items.map((i) => i.unitsSold);
          assert.deepEqual(units, [...units].sort((x, y) => y - x));
          for (const i of before.items.filter((i) => ours.includes(i.productId))) {
            assert.match(i.name, /^p-1-/);
          }
          const asOf = Date.parse(before.asOf);
          assert.ok(Date.now() - asOf < 5 * 60_000, `asOf ${before.asOf}`);
        },
      );

      await t.step("rebuild: refused while the projection's worker runs", async () => {
        const r = await rebuild();
        assert.equal(r.code, 75, r.out);
        assert.match(r.out, /active members/);
      });

      await t.step(
        "rebuild with the worker stopped: the same answer after the replay",
        async () => {
          await sys.workers.stop("best-sellers");
          const started = performance.now();
          const r = await rebuild();
          const rebuildSeconds = (performance.now() - started) / 1000;
          assert.equal(r.code, 0, r.out);
          assert.match(r.out, /offsets of best-sellers moved/);
          const emptied = await sys.sql`select 1 from best_sellers.hourly_units limit 1`;
          assert.equal(emptied.length, 0, "the projection is empty until the worker replays");
          const replayStarted = performance.now();
          await sys.workers.start("best-sellers");
          const after = await waitFor(async () => {
            const a = await bestSellers(sys, rich[0].token);
            return JSON.stringify(unitsOf(a, ours)) === JSON.stringify(unitsOf(before, ours)) &&
                Date.parse(a.asOf) >= Date.parse(before.asOf)
              ? a
              : undefined;
          }, { timeoutMs: 120_000, intervalMs: 250, what: "the rebuilt answer" }).catch(
            async (err) => {
              const a = await bestSellers(sys, rich[0].token);
              assert.deepEqual(unitsOf(a, ours), unitsOf(before, ours), String(err));
              throw err;
            },
          );
          assert.deepEqual(unitsOf(after, ours), await confirmedUnits(sys, ours));
          console.log(
            `rebuild: ${rebuildSeconds.toFixed(1)} s (command), replay to the same answer ${
              ((performance.now() - replayStarted) / 1000).toFixed(1)
            } s\n${r.out}`,
          );
        },
      );
    } finally {
      await sys.close();
    }
  },
);
