/**
 * SIGTERM under load: a worker finishes the run in hand, commits its offset, then leaves the
 * group. Its restart starts exactly where it stopped: its inbox skips nothing (no run is
 * delivered twice), and every order completes.
 */
import assert from "node:assert/strict";
import { real } from "../helpers/stack.ts";
import { system } from "../helpers/system.ts";
import { assertInvariants } from "../helpers/invariants.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { ownWorkers } from "../helpers/e2e_env.ts";

/** Sum of `consumer_records_total` samples of `outcome` on a worker's /metrics. */
async function records(port: number, outcome: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("consumer_records_total{") && line.includes(`outcome="${outcome}"`)) {
      sum += Number(line.split(" ").at(-1));
    }
  }
  return sum;
}

Deno.test(
  "e2e graceful stop: SIGTERM under load commits; the restart redelivers nothing",
  { ...real, ...ownWorkers },
  async () => {
    const sys = await system();
    try {
      const product = await sys.product(10, 10_000);
      const users = await Promise.all(Array.from({ length: 8 }, () => sys.user(1_000_000)));
      const orders: { id: string; token: string }[] = [];
      let placing = true;
      const load = (async () => {
        for (let i = 0; placing; i++) {
          const user = users[i % users.length];
          const r = await sys.call("POST", "/orders", {
            token: user.token,
            body: { items: [{ productId: product, quantity: 1 }] },
          });
          assert.equal(r.status, 202);
          orders.push({ id: r.body.orderId, token: user.token });
        }
      })();
      // Stop payment while it is applying records.
      await waitFor(async () => (await records(sys.workers.port("payment"), "applied")) >= 50, {
        timeoutMs: 30_000,
        what: "payment to apply 50 records",
      });
      const status = await sys.workers.stop("payment");
      assert.equal(status?.code, 0, "a graceful stop exits 0");
      const during = orders.length;
      await waitFor(() => orders.length >= during + 50, { timeoutMs: 30_000, what: "more orders" });
      await sys.workers.start("payment");
      placing = false;
      await load;

      const ids = orders.map((o) => o.id);
      await waitFor(async () => {
        const [r] = await sys.sql<{ n: number }[]>`
        select count(*)::int as n from orders where id = any(${ids}::uuid[]) and status = 'PENDING'`;
        return r.n === 0;
      }, { timeoutMs: 60_000, intervalMs: 200, what: "every order to settle" });
      const port = sys.workers.port("payment");
      assert.ok((await records(port, "applied")) > 0, "the restarted worker applied the backlog");
      assert.equal(await records(port, "duplicate"), 0, "records delivered again after SIGTERM");
      await assertInvariants(sys.sql, sys.scope);
    } finally {
      await sys.close();
    }
  },
);
