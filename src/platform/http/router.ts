/**
 * Route-group plumbing: a router whose validation failures are problem+json 400s with
 * `errors: [{path, message}]`, the shared OpenAPI pieces, and small request guards.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import type { AppEnv } from "./env.ts";
import { HttpProblem, validationProblem } from "./problem.ts";

/** A route group: OpenAPI-described routes, validated by their zod schemas. */
export function router(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const target = result.target === "json" ? "body" : result.target;
      return validationProblem(
        c,
        result.error.issues.map((i) => ({
          path: [target, ...i.path.map(String)].join("."),
          message: i.message,
        })),
      );
    },
  });
}

export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  instance: z.string(),
  requestId: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
}).meta({ id: "Problem" });

const problemContent = { "application/problem+json": { schema: Problem } };

/** OpenAPI responses for the given error statuses. */
export function problems(...statuses: number[]) {
  const descriptions: Record<number, string> = {
    400: "Invalid request (malformed JSON, wrong types, out of range, unknown fields)",
    401: "Missing, invalid or expired token",
    403: "Administrators only",
    404: "Not found (or not yours)",
    413: "Request body too large",
    415: "Content-Type must be application/json",
    422: "Valid request that cannot be applied",
    503: "Database unavailable; retry after Retry-After seconds",
  };
  return Object.fromEntries(
    statuses.map((s) => [s, { description: descriptions[s] ?? "Error", content: problemContent }]),
  );
}

/** JSON request body of `schema`, required. */
export function jsonBody<S extends z.ZodType>(schema: S) {
  return { required: true, content: { "application/json": { schema } } };
}

/** JSON response of `schema`. */
export function json<S extends z.ZodType>(schema: S, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** 415 unless the request says its body is JSON. */
export function requireJson(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
      throw new HttpProblem(415, "The request body must be application/json");
    }
    await next();
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A path id that cannot exist (not a UUID) is simply not found. */
export function pathId(value: string, what: string): string {
  if (!UUID.test(value)) throw new HttpProblem(404, `${what} not found`);
  return value.toLowerCase();
}
