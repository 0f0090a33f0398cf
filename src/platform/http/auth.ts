/**
 * Bearer JWT (HS256) authentication. A token must carry `sub` (1-64 of [A-Za-z0-9_-]) and `exp`;
 * `role: "admin"` marks an administrator. Only HS256 is accepted, so `alg: none` or another
 * algorithm is refused. Tokens never reach a log line.
 */
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import type { AppEnv } from "./env.ts";
import { HttpProblem } from "./problem.ts";
import { signHs256, verifyHs256 } from "./jwt.ts";

export const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;

const Claims = z.object({
  sub: z.string().regex(USER_ID),
  exp: z.number().int(),
  role: z.string().optional(),
});

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;
const unauthorized = (detail: string) =>
  new HttpProblem(401, detail, {}, { "www-authenticate": 'Bearer realm="shop"' });

/** Requires a valid bearer token; sets `c.var.user`. */
export function auth(secret: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (!header) throw unauthorized("A bearer token is required");
    const m = BEARER.exec(header);
    if (!m) throw unauthorized("The Authorization header must be 'Bearer <JWT>'");
    let payload: unknown;
    try {
      payload = verifyHs256(m[1], secret);
    } catch {
      throw unauthorized("The token is invalid or expired");
    }
    const claims = Claims.safeParse(payload);
    if (!claims.success) throw unauthorized("The token's claims are invalid (sub, exp)");
    c.set("user", { id: claims.data.sub, admin: claims.data.role === "admin" });
    await next();
  };
}

/** Requires `role: "admin"` (after `auth`). */
export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!c.get("user").admin) throw new HttpProblem(403, "This route is for administrators");
    await next();
  };
}

/** A signed HS256 token for `sub`, valid for `ttlSeconds`. */
export function issueToken(
  secret: string,
  sub: string,
  opts: { admin?: boolean; ttlSeconds?: number } = {},
): string {
  if (!USER_ID.test(sub)) {
    throw new TypeError(
      `Cannot issue a token as 'sub' must be 1-64 of [A-Za-z0-9_-]: current value is ${
        JSON.stringify(sub)
      }`,
    );
  }
  const now = Math.floor(Date.now() / 1000);
  return signHs256(
    {
      sub,
      iat: now,
      exp: now + (opts.ttlSeconds ?? 24 * 3600),
      ...(opts.admin ? { role: "admin" } : {}),
    },
    secret,
  );
}
