/**
 * The API's readiness: it is ready when it can accept work, which needs Postgres only (every
 * write is one transaction with its outbox rows; the API never talks to Kafka). Kafka and the
 * relay's connector are watched in the background and reported beside readiness, in the
 * `api_dependency_up` gauge and in the ops console, never as readiness: an orchestrator that
 * took every API instance out of service while Kafka is away would refuse exactly the writes the
 * outbox exists to absorb.
 */
import type { Config } from "./platform/config.ts";
import type { Sql } from "./platform/db.ts";
import { kafkaAccess, kafkaClient } from "./platform/kafka.ts";
import { PRINCIPALS } from "./kafka_acls.ts";
import type { Logger } from "./platform/log.ts";
import type { Check, Reported } from "./platform/ops_server.ts";
import { dependencyUp, relayRestarts } from "./platform/metrics.ts";
import { connectorStatus } from "../relay/register.ts";
import { failedTrace, restartFailed, restartSchedule } from "../relay/restart.ts";

/**
 * Caches a check's answer for `ms`, so frequent probes cost one real check per window. A failure
 * is cached as the rejection itself: the handler reports it as `down` and logs its message, which
 * must not reach the unauthenticated body (Connect's or Kafka's errors name hosts and ports).
 */
export function cached(check: Check, ms = 1000): Check {
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

export interface ApiReadiness {
  /** What readiness depends on: the database, probed at most once a second. */
  checks: Record<string, Check>;
  /** The last state of each watched dependency (Kafka, the relay), for the health body. */
  reported: () => Record<string, Reported>;
  /** Stops watching and drops the Kafka connection (at shutdown). */
  close: () => Promise<void>;
}

export interface ApiReadinessOptions {
  /** How often Kafka and the relay are checked in the background. @default 5000 */
  watchIntervalMs?: number;
  /** A watched check without an answer this long is `timeout`. @default 3000 */
  watchTimeoutMs?: number;
  log?: Logger;
}

export function apiReadiness(
  cfg: Config,
  sql: Sql,
  options: ApiReadinessOptions = {},
): ApiReadiness {
  const { watchIntervalMs = 5000, watchTimeoutMs = 3000, log } = options;
  const admin = kafkaClient(kafkaAccess(cfg, PRINCIPALS.ops), "api-readiness", {
    silent: true,
    retries: 0,
  })
    .admin();
  let connected: Promise<void> | undefined;
  const restarts = restartSchedule();
  const watched: Record<string, Check> = {
    kafka: async () => {
      connected ??= admin.connect();
      try {
        await connected;
        const c = await admin.describeCluster();
        return { ok: c.brokers.length > 0, detail: `${c.brokers.length} broker(s)` };
      } catch (err) {
        connected = undefined;
        throw err;
      }
    },
    relay: async () => {
      const s = await connectorStatus(cfg.kafkaConnectUrl, "shop-outbox");
      if (!s) return { ok: false, detail: "connector shop-outbox is not registered" };
      const failed = failedTrace(s);
      if (restarts.due(failed !== undefined, performance.now())) {
        // Connect leaves a FAILED task failed; its trace's first line says why.
        log?.warn("relay FAILED: restarting its connector and failed tasks", {
          trace: failed?.split("\n")[0],
        });
        relayRestarts.inc();
        await restartFailed(cfg.kafkaConnectUrl, "shop-outbox");
      }
      const tasks = s.tasks.map((t) => t.state).join(",") || "no tasks";
      const ok = s.connector.state === "RUNNING" && s.tasks.length > 0 &&
        s.tasks.every((t) => t.state === "RUNNING");
      return { ok, detail: `connector ${s.connector.state}, tasks ${tasks}` };
    },
  };
  const last: Record<string, Reported> = Object.fromEntries(
    Object.keys(watched).map((name) => [name, { status: "unknown" }]),
  );
  let stopped = false;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const watch = async (name: string, check: Check) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = Symbol("timeout");
    let state: Reported;
    try {
      const r = await Promise.race([
        check(),
        new Promise<typeof timedOut>((resolve) =>
          timer = setTimeout(resolve, watchTimeoutMs, timedOut)
        ),
      ]);
      state = r === timedOut
        ? { status: "timeout" }
        : { status: r.ok ? "ok" : "down", ...(r.detail ? { detail: r.detail } : {}) };
    } catch (err) {
      // The message names hosts and ports: the log has it, the unauthenticated body does not.
      if (last[name].status === "ok" || last[name].status === "unknown") {
        log?.warn("dependency unreachable (the API stays ready)", { dependency: name, error: err });
      }
      state = { status: "down" };
    } finally {
      clearTimeout(timer);
    }
    if (stopped) return;
    if (state.status === "ok" && last[name].status !== "ok" && last[name].status !== "unknown") {
      log?.info("dependency answers again", { dependency: name });
    }
    last[name] = { ...state, at: new Date().toISOString() };
    dependencyUp.set({ dependency: name }, state.status === "ok" ? 1 : 0);
    const t = setTimeout(() => {
      timers.delete(t);
      watch(name, check);
    }, watchIntervalMs);
    timers.add(t);
  };
  for (const [name, check] of Object.entries(watched)) watch(name, check);

  return {
    checks: {
      // A probe, not a query per call: at most one `select 1` a second on the request pool.
      database: cached(async () => {
        await sql`select 1`;
        return { ok: true };
      }),
    },
    reported: () => structuredClone(last),
    close: async () => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      await admin.disconnect().catch(() => {});
    },
  };
}
