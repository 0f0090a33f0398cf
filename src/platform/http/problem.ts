/**
 * RFC 9457 problem details: every error response of the API is `application/problem+json`.
 * Handlers throw `HttpProblem`; `onError` turns anything thrown into a problem response and
 * never lets an input produce a 500 (only a bug can, and it is logged).
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "../log.ts";
import { classifyError } from "../errors.ts";

export interface FieldError {
  path: string;
  message: string;
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** An error that is a response: status, a human detail, and optional extension members. */
export class HttpProblem extends Error {
  override name = "HttpProblem";
  constructor(
    readonly status: ContentfulStatusCode,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

/** The problem+json response for `status` (type `about:blank`, title = the status phrase). */
export function problemResponse(
  c: Context,
  status: ContentfulStatusCode,
  detail: string,
  extensions: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Response {
  const body = {
    type: "about:blank",
    title: TITLES[status] ?? "Error",
    status,
    detail,
    instance: c.req.path,
    requestId: c.get("requestId" as never),
    ...extensions,
  };
  return c.body(JSON.stringify(body), status, {
    ...headers,
    "content-type": "application/problem+json",
  });
}

/** A 400 with the field errors of a failed validation. */
export function validationProblem(c: Context, errors: FieldError[]): Response {
  return problemResponse(c, 400, "The request is not valid", { errors });
}

/** True when `err` means the database is unreachable (answer 503, not 500). */
export function isUnavailable(err: unknown): boolean {
  return classifyError(err) === "infrastructure";
}

/** The app's error handler. */
export function onError(log: Logger): ErrorHandler {
  return (err, c) => {
    if (err instanceof HttpProblem) {
      return problemResponse(c, err.status, err.detail, err.extensions, err.headers);
    }
    if (err instanceof HTTPException) {
      // Hono's own: malformed JSON (400), body limit (413), ...
      const detail = err.status === 400 ? "The request body is not valid JSON" : err.message;
      const ext = err.status === 400 ? { errors: [{ path: "", message: detail }] } : {};
      return problemResponse(c, err.status as ContentfulStatusCode, detail, ext);
    }
    if (isUnavailable(err)) {
      log.warn("database unavailable", { error: err, path: c.req.path });
      return problemResponse(c, 503, "The database is unavailable; retry shortly", {}, {
        "retry-after": "5",
      });
    }
    if (classifyError(err) === "transient") {
      // A statement timeout (the routes' pool cancels what outlives the request's deadline), a
      // deadlock, a serialization failure: the request did nothing and may succeed if retried.
      log.warn("database gave up on the request", { error: err, path: c.req.path });
      return problemResponse(
        c,
        503,
        "The database could not complete the request; retry shortly",
        {},
        {
          "retry-after": "1",
        },
      );
    }
    log.error("unhandled error", { error: err, stack: (err as Error).stack, path: c.req.path });
    return problemResponse(c, 500, "An unexpected error occurred");
  };
}

/** 404 for routes that do not exist. */
export const notFound: NotFoundHandler = (c) =>
  problemResponse(c, 404, `No route for ${c.req.method} ${c.req.path}`);
