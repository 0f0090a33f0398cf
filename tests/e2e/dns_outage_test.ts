/**
 * The database host stops resolving (what `docker compose restart postgres` does to its service
 * name): the workers connect by a host name this test controls through /etc/hosts, lose their
 * connections, and for 10 s every reconnect fails with ENOTFOUND while orders keep arriving.
 * They must wait, dead-letter nothing, and finish the backlog once the name resolves again.
 */
import assert from "node:assert/strict";
import { cfg, real } from "../helpers/stack.ts";
import { system } from "../helpers/system.ts";
import { assertInvariants } from "../helpers/invariants.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { WORKERS } from "../../src/workers.ts";
import { ownWorkers } from "../helpers/e2e_env.ts";

const HOST = "shop-db-dns-test.internal";
const HOSTS = "/etc/hosts";
const LINE = `127.0.0.1 ${HOST} # tests/e2e/dns_outage_test.ts`;
const OUTAGE_MS = 10_000;

async function setResolvable(on: boolean): Promise<void> {
  const lines = (await Deno.readTextFile(HOSTS)).split("\n").filter((l) => l !== LINE && l !== "");
  if (on) lines.push(LINE);
  await Deno.writeTextFile(HOSTS, lines.join("\n") + "\n");
}

Deno.test(
  "e2e dns outage: the database name vanishes for 10 s; nothing dead-lettered, backlog done",
  { ...real, ...ownWorkers },
  async () => {
    try {
      await setResolvable(true);
    } catch (err) {
      throw new Error(`this test edits ${HOSTS}, so it needs write access (run as root)`, {
        cause: err,
      });
    }
    const url = new URL(cfg.databaseUrl);
    url.hostname = HOST;
    const sys = await system({ workerEnv: { DATABASE_URL: url.toString() } });
    try {
      const product = await sys.product(100, 1000);
      const user = await sys.user(1_000_000);
      const place = async () => {
        const r = await sys.call("POST", "/orders", {
          token: user.token,
          body: { items: [{ productId: product, quantity: 1 }] },
        });
        assert.equal(r.status, 202);
        return r.body.orderId as string;
      };
      // The system works through the name.
      assert.equal((await sys.settledOrder(user.token, await place())).status, "CONFIRMED");
      const [{ n: deadLettersBefore }] = await sys.sql<{ n: number }[]>`
        select count(*)::int as n from dead_letter_log`;

      // The name vanishes and the workers' connections drop: every reconnect must resolve it.
      await setResolvable(false);
      const outageStarted = Date.now();
      await sys.sql`
        select pg_terminate_backend(pid) from pg_stat_activity
        where application_name = any(${WORKERS}::text[])`;
      const orders: string[] = [];
      for (let i = 0; i < 20; i++) orders.push(await place());
      await waitFor(async () => {
        const log = await Deno.readTextFile(sys.workers.logPath("payment"));
        return log.includes("ENOTFOUND");
      }, { timeoutMs: OUTAGE_MS, what: "payment to fail to resolve the database host" });
      const [{ n: pending }] = await sys.sql<{ n: number }[]>`
        select count(*)::int as n from orders where id = any(${orders}::uuid[]) and status = 'PENDING'`;
      assert.equal(pending, orders.length, "no order can settle while the name is gone");
      // The fault lasts its full length (this is the outage, not a wait for a condition).
      await new Promise((r) =>
        setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - outageStarted)))
      );
      await setResolvable(true);

      for (const id of orders) {
        assert.equal((await sys.settledOrder(user.token, id, 60_000)).status, "CONFIRMED");
      }
      const [{ n: deadLettersAfter }] = await sys.sql<{ n: number }[]>`
        select count(*)::int as n from dead_letter_log`;
      assert.equal(deadLettersAfter, deadLettersBefore, "records dead-lettered during the outage");
      for (const w of WORKERS) {
        const r = await fetch(`http://127.0.0.1:${sys.workers.port(w)}/health/ready`);
        assert.equal(r.status, 200, `${w} ready again`);
      }
      await assertInvariants(sys.sql, sys.scope);
    } finally {
      await setResolvable(false).catch(() => {});
      await sys.close();
    }
  },
);
