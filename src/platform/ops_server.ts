/**
 * The small HTTP server every worker runs beside its consumer: GET /health/live (cheap),
 * GET /health/ready (each dependency's state, 503 if one is down) and GET /metrics (Prometheus).
 */
import { type Context, Hono } from "hono";
import { type Logger, logger } from "./log.ts";
import { metricsText } from "./metrics.ts";

/**
 * One readiness check. `detail` is a state the check words itself from what it asked (a
 * connector's state, a broker count), never an error's message: a check that cannot get an
 * answer throws, and the handler reports it as `down` without the message.
 */
export type Check = () => Promise<{ ok: boolean; detail?: string }>;

/** What /health/ready says of one check: `ok`, `down` (failed or said not ok), `timeout`. */
export type CheckStatus = "ok" | "down" | "timeout";

/** A dependency's last known state, reported beside the checks without deciding readiness. */
export interface Reported {
  status: CheckStatus | "unknown";
  detail?: string;
  /** When this state was observed (ISO 8601). */
  at?: string;
}

/**
 * GET /health/ready over named checks: 200 when all pass, else 503 with each check's status. A
 * check without an answer within `timeoutMs` is `timeout` (a hung dependency must not hang the
 * probe). The body carries states only: a failure's own message (a host name, a user, SQL) goes
 * to the log as a structured line, since the probe is unauthenticated. `reported` adds
 * dependencies the process works without for a while (the API without Kafka): their last known
 * state is in the body under `reported`, and never makes the process unready.
 */
export function readyHandler(
  checks: Record<string, Check>,
  timeoutMs = 2000,
  log: Logger = logger("readiness"),
  reported?: () => Record<string, Reported>,
) {
  return async (c: Context) => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timedOut = Symbol("timeout");
        try {
          const r = await Promise.race([
            check(),
            new Promise<typeof timedOut>((resolve) => {
              timer = setTimeout(() => resolve(timedOut), timeoutMs);
            }),
          ]);
          if (r === timedOut) {
            log.warn("readiness check timed out", { check: name, timeoutMs });
            return [name, { status: "timeout" as CheckStatus }] as const;
          }
          if (!r.ok) log.warn("readiness check down", { check: name, detail: r.detail });
          return [name, {
            status: (r.ok ? "ok" : "down") as CheckStatus,
            ...(r.detail ? { detail: r.detail } : {}),
          }] as const;
        } catch (err) {
          log.warn("readiness check failed", { check: name, error: err });
          return [name, { status: "down" as CheckStatus }] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const ok = results.every(([, r]) => r.status === "ok");
    if (!ok) c.header("retry-after", "5");
    return c.json(
      {
        status: ok ? "ok" : "unavailable",
        checks: Object.fromEntries(results),
        ...(reported ? { reported: reported() } : {}),
      },
      ok ? 200 : 503,
    );
  };
}

/** The ops routes over named readiness checks; the API mounts the same shape itself. */
export function opsApp(checks: Record<string, Check>, log?: Logger): Hono {
  const app = new Hono();
  app.get("/health/live", (c) => c.json({ status: "ok" }));
  app.get("/health/ready", readyHandler(checks, undefined, log));
  app.get("/metrics", async (c) => {
    const { body, contentType } = await metricsText();
    return c.body(body, 200, { "content-type": contentType });
  });
  return app;
}

/** Serves `opsApp(checks)` on `port`; returns the server to shut down. */
export function serveOps(
  port: number,
  checks: Record<string, Check>,
  log: Logger,
): Deno.HttpServer {
  return Deno.serve({
    port,
    hostname: "0.0.0.0",
    onListen: ({ port }) => log.info("ops endpoints listening", { port }),
  }, opsApp(checks, log).fetch);
}
