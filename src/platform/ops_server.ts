/**
 * The small HTTP server every worker runs beside its consumer: GET /health/live (cheap),
 * GET /health/ready (per-dependency detail, 503 if one is down) and GET /metrics (Prometheus).
 */
import { type Context, Hono } from "hono";
import type { Logger } from "./log.ts";
import { metricsText } from "./metrics.ts";

export type Check = () => Promise<{ ok: boolean; detail?: string }>;

/**
 * GET /health/ready over named checks: 200 when all pass, else 503 with per-check detail. A
 * check without an answer within `timeoutMs` is down (a hung dependency must not hang the probe).
 */
export function readyHandler(checks: Record<string, Check>, timeoutMs = 2000) {
  return async (c: Context) => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        try {
          const r = await Promise.race([
            check(),
            new Promise<never>((_, reject) => {
              timer = setTimeout(
                () => reject(new Error(`no answer within ${timeoutMs} ms`)),
                timeoutMs,
              );
            }),
          ]);
          return [name, {
            status: r.ok ? "ok" : "down",
            ...(r.detail ? { detail: r.detail } : {}),
          }] as const;
        } catch (err) {
          return [name, { status: "down", detail: (err as Error).message }] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const ok = results.every(([, r]) => r.status === "ok");
    if (!ok) c.header("retry-after", "5");
    return c.json(
      { status: ok ? "ok" : "unavailable", checks: Object.fromEntries(results) },
      ok ? 200 : 503,
    );
  };
}

/** The ops routes over named readiness checks; the API mounts the same shape itself. */
export function opsApp(checks: Record<string, Check>): Hono {
  const app = new Hono();
  app.get("/health/live", (c) => c.json({ status: "ok" }));
  app.get("/health/ready", readyHandler(checks));
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
  }, opsApp(checks).fetch);
}
