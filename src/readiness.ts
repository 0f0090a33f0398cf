/**
 * The API's readiness checks: Postgres answers, the Kafka broker answers, and the relay's
 * connector and task are RUNNING in Kafka Connect. The API writes only to Postgres, but without
 * a running relay its writes would not reach anyone, which an operator wants to see here.
 */
import type { Config } from "./platform/config.ts";
import type { Sql } from "./platform/db.ts";
import { kafkaClient } from "./platform/kafka.ts";
import type { Check } from "./platform/ops_server.ts";
import { connectorStatus } from "../relay/register.ts";

/**
 * Caches a check's answer for `ms`, so frequent probes cost one real check per window. A failure
 * is cached as the rejection itself: the handler reports it as `down` and logs its message, which
 * must not reach the unauthenticated body (Connect's or Kafka's errors name hosts and ports).
 */
function cached(check: Check, ms = 1000): Check {
  let last: { at: number; value: ReturnType<Check> } | undefined;
  return () => {
    const now = performance.now();
    if (!last || now - last.at > ms) {
      const value = check();
      // Awaited by every probe of the window; marked handled in case none comes.
      value.catch(() => {});
      last = { at: now, value };
    }
    return last.value;
  };
}

/** The checks, and `close` to drop the Kafka connection they hold (at shutdown). */
export function apiReadiness(
  cfg: Config,
  sql: Sql,
): { checks: Record<string, Check>; close: () => Promise<void> } {
  const admin = kafkaClient(cfg.kafkaBrokers, "api-readiness", { silent: true, retries: 0 })
    .admin();
  let connected: Promise<void> | undefined;
  const checks: Record<string, Check> = {
    database: async () => {
      await sql`select 1`;
      return { ok: true };
    },
    kafka: cached(async () => {
      connected ??= admin.connect();
      try {
        await connected;
        const c = await admin.describeCluster();
        return { ok: c.brokers.length > 0, detail: `${c.brokers.length} broker(s)` };
      } catch (err) {
        connected = undefined;
        throw err;
      }
    }),
    relay: cached(async () => {
      const s = await connectorStatus(cfg.kafkaConnectUrl, "shop-outbox");
      if (!s) return { ok: false, detail: "connector shop-outbox is not registered" };
      const tasks = s.tasks.map((t) => t.state).join(",") || "no tasks";
      const ok = s.connector.state === "RUNNING" && s.tasks.length > 0 &&
        s.tasks.every((t) => t.state === "RUNNING");
      return { ok, detail: `connector ${s.connector.state}, tasks ${tasks}` };
    }),
  };
  return { checks, close: () => admin.disconnect().catch(() => {}) };
}
