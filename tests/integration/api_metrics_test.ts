/**
 * GET /metrics never touches the database: the API process reaches Postgres through a TCP proxy
 * that this test can freeze. With the proxy frozen and every connection of the API's pool stuck
 * on a request, 50 concurrent scrapes still answer at once with the database gauges (their last
 * background refresh). Were a scrape to run a query, it would hang behind the frozen proxy and
 * the pool, and miss its deadline.
 */
import assert from "node:assert/strict";
import { adminToken, newUser } from "../helpers/api.ts";
import { startApiProcess } from "../helpers/api_process.ts";
import { cfg, real } from "../helpers/stack.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { tcpProxy } from "../helpers/tcp_proxy.ts";

/** The database gauges the API serves (names and labels as documented in the README). */
const GAUGES: [RegExp, string][] = [
  [/^replication_slot_lag_bytes\{slot="shop_outbox"\} \d/m, "slot lag"],
  [/^orders\{status="(PENDING|CONFIRMED|CANCELLED)"\} \d+$/m, "orders by status"],
  [/^orders_oldest_pending_age_seconds [\d.e+-]+$/m, "oldest PENDING order"],
  [/^# TYPE coupon_requests_pending gauge$/m, "FCFS pending by coupon"],
];
const hasGauges = (text: string) => GAUGES.every(([re]) => re.test(text));

Deno.test(
  "api metrics: 50 concurrent scrapes answer from memory while the database and pool are stuck",
  real,
  async () => {
    const db = new URL(cfg.databaseUrl);
    const proxy = tcpProxy({ hostname: db.hostname, port: Number(db.port || 5432) });
    db.hostname = "127.0.0.1";
    db.port = String(proxy.port);
    const api = await startApiProcess({ env: { DATABASE_URL: db.href } });
    const call = (path: string, init: RequestInit = {}) =>
      fetch(`${api.url}${path}`, { ...init, signal: AbortSignal.timeout(2000) });
    const user = newUser("metrics");
    const stuck: Promise<Response>[] = [];
    try {
      // An order of our own, so that `orders{status}` has a line even on an empty database.
      const product = await (await call("/products", {
        method: "POST",
        headers: { authorization: `Bearer ${adminToken()}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "metrics", price: 1, stock: 1 }),
      })).json();
      const placed = await call("/orders", {
        method: "POST",
        headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
        body: JSON.stringify({ items: [{ productId: product.id, quantity: 1 }] }),
      });
      assert.equal(placed.status, 202);
      await placed.body?.cancel();
      // On the internal ops port only: the public port has no /metrics.
      const publicMetrics = await call("/metrics");
      assert.equal(publicMetrics.status, 404);
      assert.equal(publicMetrics.headers.get("content-type"), "application/problem+json");
      await publicMetrics.body?.cancel();
      const scrape = () => fetch(`${api.opsUrl}/metrics`, { signal: AbortSignal.timeout(2000) });
      await waitFor(async () => hasGauges(await (await scrape()).text()), {
        timeoutMs: 30_000,
        what: "the first background refresh of the database gauges",
      });

      proxy.freeze();
      // Twice the pool (8): every connection is taken by a request waiting on the frozen
      // database, and as many more queue for one.
      for (let i = 0; i < 16; i++) {
        stuck.push(
          fetch(`${api.url}/wallet`, { headers: { authorization: `Bearer ${user.token}` } }),
        );
      }
      let settled = 0;
      for (const s of stuck) s.finally(() => settled++).catch(() => {});

      const started = performance.now();
      const scrapes = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const res = await scrape(); // aborted (failing the test) after 2 s
          return { status: res.status, text: await res.text() };
        }),
      );
      const ms = performance.now() - started;
      for (const s of scrapes) {
        assert.equal(s.status, 200);
        for (const [re, what] of GAUGES) assert.match(s.text, re, what);
      }
      // The control: had the proxy not held the database, these would have answered by now, and
      // the scrapes above would prove nothing.
      assert.equal(settled, 0, "requests that need the database are stuck while it is frozen");
      assert.ok(ms < 2000, `50 scrapes took ${Math.round(ms)} ms`);

      proxy.thaw();
      for (const res of await Promise.all(stuck)) {
        assert.equal(res.status, 200, "the stuck requests complete once the database is back");
        await res.body?.cancel();
      }
    } finally {
      proxy.thaw();
      await Promise.allSettled(stuck);
      await api.stop();
      await proxy.close();
    }
  },
);
