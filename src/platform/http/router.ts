/**
 * Route-group plumbing: a router whose validation failures are problem+json 400s with
 * `errors: [{path, message}]`, the shared OpenAPI pieces, and small request guards.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { auth, type TokenPolicy } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { HttpProblem, validationProblem } from "./problem.ts";
import { unstorableStrings } from "./strings.ts";

/**
 * A route group: OpenAPI-described routes, validated by their zod schemas. Every validated input
 * (body, query, path, headers) is also checked for strings the database cannot store (NUL, lone
 * surrogates; see strings.ts), so each route, present or future, refuses them with a 400 naming
 * the field instead of failing in Postgres with a 500.
 */
export function router(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      const target = result.target === "json" ? "body" : result.target;
      // `data` is what the handler would get on success (so exactly what would be written), and
      // on failure @hono/zod-validator passes the raw input too (its Hook type says so; this
      // package's narrower type omits it), so the bad field is named beside the schema's issues.
      const data = "data" in result ? result.data : undefined;
      const unstorable = unstorableStrings(data, target);
      if (target === "param" && unstorable.length > 0) {
        // Consistent with ids that are not UUIDs: such a path names nothing that exists.
        throw new HttpProblem(404, `Nothing exists at ${c.req.path}`);
      }
      if (result.success && unstorable.length === 0) return;
      const issues = result.success ? [] : result.error.issues.map((i) => ({
        path: [target, ...i.path.map(String)].join("."),
        message: i.message,
      }));
      return validationProblem(c, [...issues, ...unstorable]);
    },
  });
}

/**
 * A service's routes under one path prefix, every one behind a bearer token: the group applies
 * `auth` itself to everything below where it is mounted, matched route or not, so a route added
 * to the group cannot be public by mistake (admin routes add `requireAdmin()` to their own
 * middleware). Mount it under its prefix (`group.route("/orders", protectedRouter(tokens))`), never
 * at the root: there its `*` middleware would meet every request of the API (health, docs, and an
 * unknown path would answer 401 instead of 404).
 * @example
 * const orders = protectedRouter(tokens);
 * orders.openapi(createRoute({ method: "get", path: "/{id}", ... }), handler);
 * return router().route("/orders", orders);
 */
export function protectedRouter(tokens: TokenPolicy): OpenAPIHono<AppEnv> {
  const app = router();
  app.use("*", auth(tokens));
  return app;
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

const retryAfter = {
  description: "Seconds to wait before retrying",
  schema: { type: "integer" as const, minimum: 1 },
};

const problemContent = { "application/problem+json": { schema: Problem } };

/**
 * OpenAPI responses for the given error statuses, plus 503 on every route: any of them can meet
 * an unreachable or hung database, and then answers 503 with `Retry-After` (seconds).
 */
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
  const all = [...new Set([...statuses, 503])];
  return Object.fromEntries(all.map((s) => [s, {
    description: descriptions[s] ?? "Error",
    content: problemContent,
    ...(s === 503 ? { headers: { "Retry-After": retryAfter } } : {}),
  }]));
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
