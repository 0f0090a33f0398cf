/**
 * `replication_slot_lag_seconds` on a real API process: 0 while the relay keeps up, growing with
 * the time the relay has not confirmed WAL while its connector is paused, back to 0 once it is
 * resumed. The connector is resumed in `finally`, whatever happens.
 */
import assert from "node:assert/strict";
import { cfg, db, real } from "../helpers/stack.ts";
import { startApiProcess } from "../helpers/api_process.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { connectorStatus } from "../../relay/register.ts";

const CONNECTOR = `${cfg.kafkaConnectUrl}/connectors/shop-outbox`;

async function put(path: string): Promise<void> {
  const res = await fetch(`${CONNECTOR}/${path}`, { method: "PUT" });
  await res.body?.cancel();
  assert.ok(res.ok, `PUT ${path}: ${res.status}`);
}

Deno.test(
  "slot lag seconds: grows while the relay is paused, 0 again once it resumes",
  real,
  async () => {
    const api = await startApiProcess();
    const sql = db(1);
    const lag = async () => {
      const text = await (await fetch(`${api.opsUrl}/metrics`)).text();
      const m = /^replication_slot_lag_seconds\{slot="shop_outbox"\} (\S+)$/m.exec(text);
      return m ? Number(m[1]) : undefined;
    };
    try {
      // Boxed: a served 0 is an answer, not "not yet".
      const { before } = await waitFor(async () => {
        const s = await lag();
        return s === undefined ? undefined : { before: s };
      }, { timeoutMs: 20_000, what: "replication_slot_lag_seconds served" });
      assert.ok(before < 60, `before the pause: ${before}`);

      await put("pause");
      await waitFor(async () =>
        (await connectorStatus(cfg.kafkaConnectUrl, "shop-outbox"))
          ?.connector.state === "PAUSED", { timeoutMs: 20_000, what: "the connector PAUSED" });
      // WAL the paused relay does not confirm: one small logical message per poll.
      const behind = await waitFor(async () => {
        await sql`select pg_logical_emit_message(false, 'slot-lag-test', 'x')`;
        const s = await lag();
        return s !== undefined && s >= 10 ? s : undefined;
      }, { timeoutMs: 60_000, intervalMs: 1000, what: "slot lag of 10 s or more while paused" });
      assert.ok(behind >= 10, `${behind}`);

      await put("resume");
      await waitFor(async () => (await lag()) === 0, {
        timeoutMs: 60_000,
        intervalMs: 500,
        what: "slot lag back to 0 after the resume",
      });
    } finally {
      await put("resume").catch(() => {});
      await sql.end();
      await api.stop();
    }
  },
);
