/**
 * Per-request context: a request id (accepted from `X-Request-Id` or made here), a W3C trace
 * context (continued from `traceparent` or started here), and one structured access log line
 * plus metrics per request. Headers are never logged, so tokens never reach a log.
 */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log.ts";
import { httpDuration, httpRequests } from "../metrics.ts";
import type { AppEnv } from "./env.ts";

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function hex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** The trace id of an incoming traceparent if valid, else a new one. */
export function traceIdFrom(header: string | undefined): string {
  const m = header ? TRACEPARENT.exec(header) : null;
  if (m && !/^0+$/.test(m[1]) && !/^0+$/.test(m[2])) return m[1];
  return hex(16);
}

export function requestContext(log: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    const traceId = traceIdFrom(c.req.header("traceparent"));
    const traceparent = `00-${traceId}-${hex(8)}-01`;
    c.set("requestId", requestId);
    c.set("traceparent", traceparent);
    c.header("x-request-id", requestId);
    c.header("traceparent", traceparent);
    try {
      await next();
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const route = c.req.routePath ?? "unmatched";
      const status = c.res.status;
      httpRequests.inc({ method: c.req.method, route, status: String(status) });
      httpDuration.observe({ method: c.req.method, route }, seconds);
      log.info("request", {
        requestId,
        traceId,
        method: c.req.method,
        path: c.req.path,
        route,
        status,
        ms: Math.round(seconds * 10000) / 10,
        user: c.get("user")?.id,
      });
    }
  };
}
