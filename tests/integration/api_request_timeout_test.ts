/**
 * A request that times out leaves nothing running: the API's connections carry a statement
 * timeout below the request timeout, so the database cancels the request's statement and rolls
 * its transaction back before the client gets its 503. Before, the 503 came from the request
 * timeout alone while the statement kept waiting, and it committed once the lock it waited for
 * was released: a charge the client had been told failed.
 *
 * The API runs as a process (its pools as `deno task api` opens them); this test holds the lock on
 * the wallet row the charge needs, from a connection of its own.
 */
import assert from "node:assert/strict";
import { API_ROLE } from "../../src/app.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { newUser } from "../helpers/api.ts";
import { startApiProcess } from "../helpers/api_process.ts";
import { db, real } from "../helpers/stack.ts";

Deno.test(
  "request timeout: the 503's statement is cancelled and nothing commits",
  real,
  async () => {
    const sql = db(3);
    const api = await startApiProcess();
    const user = newUser("timeout");
    const chargeWallet = (amount: number) =>
      fetch(`${api.url}/wallet/charges`, {
        method: "POST",
        headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
        body: JSON.stringify({ amount }),
        signal: AbortSignal.timeout(20_000),
      });
    /** The API's backends waiting on a lock `holder` holds. */
    const blockedBy = async (holder: number) =>
      (await sql<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity
      where usename = ${API_ROLE} and ${holder}::int = any(pg_blocking_pids(pid))`)[0].n;
    const holder = await sql.reserve();
    try {
      const first = await chargeWallet(5);
      assert.equal(first.status, 200);
      await first.body?.cancel();

      await holder`begin`;
      await holder`select 1 from wallets where user_id = ${user.id} for update`;
      const [{ pid }] = await holder<{ pid: number }[]>`select pg_backend_pid() as pid`;
      const started = performance.now();
      const pending = chargeWallet(7);
      // The control: the charge's statement does wait on the held row.
      await waitFor(async () => (await blockedBy(pid)) === 1, {
        timeoutMs: 4000,
        what: "the charge waiting on the held wallet row",
      });

      const res = await pending;
      const ms = performance.now() - started;
      assert.equal(res.status, 503);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      assert.ok(res.headers.get("retry-after"), "Retry-After");
      await res.body?.cancel();
      assert.ok(ms < 5500, `answered after ${Math.round(ms)} ms`);

      // No backend of the API's role still runs the statement, while the lock is still held.
      await waitFor(async () => (await blockedBy(pid)) === 0, {
        timeoutMs: 2000,
        what: "the API's statement to be cancelled",
      });
      await holder`rollback`;

      // A statement that had still waited would have committed now, ahead of this charge.
      const next = await chargeWallet(1);
      assert.deepEqual(await next.json(), { balance: 6 });
      const [{ charges }] = await sql<{ charges: number }[]>`
      select count(*)::int as charges from wallet_charges where user_id = ${user.id}`;
      assert.equal(charges, 2);
      const [{ events }] = await sql<{ events: number }[]>`
      select count(*)::int as events from outbox
      where type = 'WalletCharged' and payload->>'userId' = ${user.id}`;
      assert.equal(events, 2);
    } finally {
      await holder`rollback`.catch(() => {});
      holder.release();
      await api.stop();
      await sql.end();
    }
  },
);
