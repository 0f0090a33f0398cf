/**
 * Per-request context: a request id (accepted from `X-Request-Id` or made here), a W3C trace
 * context (continued from `traceparent` or started here), and one structured access log line
 * plus metrics per request. Headers are never logged, so tokens never reach a log.
 */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log.ts";
import { httpDuration, httpRequests } from "../metrics.ts";
import type { AppEnv } from "./env.ts";
import { childTraceparent, traceIdOf } from "../trace.ts";

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * The methods that keep their name as a metric label. Any other token is a valid method to HTTP,
 * so a client could mint one series per made-up method; they all count as `OTHER`. The route
 * label is bounded already: it is the matched route's pattern (`/*` when none matched), never
 * the raw path.
 */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]);

/** `method` as a metric label: itself if standard, else `OTHER`. */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : "OTHER";
}

export function requestContext(log: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    const traceparent = childTraceparent(c.req.header("traceparent"));
    const traceId = traceIdOf(traceparent)!;
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
      const method = methodLabel(c.req.method);
      httpRequests.inc({ method, route, status: String(status) });
      httpDuration.observe({ method, route }, seconds);
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
