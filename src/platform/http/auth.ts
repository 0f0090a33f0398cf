/**
 * Bearer JWT (HS256) authentication. A token must carry `sub` (1-64 of [A-Za-z0-9_-]), `exp` and
 * `iat`, live no longer than the policy's maximum (`exp - iat`), and carry the policy's issuer and
 * audience when those are configured; `role: "admin"` marks an administrator. Only HS256 is
 * accepted, so `alg: none` or another algorithm is refused. Tokens never reach a log line.
 */
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import type { AppEnv } from "./env.ts";
import { HttpProblem } from "./problem.ts";
import { signHs256, verifyHs256 } from "./jwt.ts";

export const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** AUTH_JWT_MAX_LIFETIME_S's default: the longest lifetime a token may have, in seconds. */
export const DEFAULT_MAX_LIFETIME_S = 24 * 3600;

/** What a bearer token must satisfy: the HS256 secret, and limits on its claims. */
export interface TokenPolicy {
  secret: string;
  /** The longest `exp - iat` accepted (AUTH_JWT_MAX_LIFETIME_S). @default DEFAULT_MAX_LIFETIME_S */
  maxLifetimeS?: number;
  /** The `iss` required (AUTH_JWT_ISSUER); unset: not checked. */
  issuer?: string;
  /** The `aud` required (AUTH_JWT_AUDIENCE); unset: not checked. */
  audience?: string;
}

const Claims = z.object({
  sub: z.string().regex(USER_ID),
  exp: z.number().int(),
  iat: z.number(),
  role: z.string().optional(),
});

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;
const unauthorized = (detail: string) =>
  new HttpProblem(401, detail, {}, { "www-authenticate": 'Bearer realm="shop"' });

/** Requires a bearer token that satisfies `policy`; sets `c.var.user`. */
export function auth(policy: TokenPolicy): MiddlewareHandler<AppEnv> {
  const { secret, maxLifetimeS = DEFAULT_MAX_LIFETIME_S, issuer, audience } = policy;
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (!header) throw unauthorized("A bearer token is required");
    const m = BEARER.exec(header);
    if (!m) throw unauthorized("The Authorization header must be 'Bearer <JWT>'");
    let payload: unknown;
    try {
      payload = verifyHs256(m[1], secret, { maxLifetimeS, issuer, audience });
    } catch {
      throw unauthorized("The token is invalid or expired");
    }
    const claims = Claims.safeParse(payload);
    if (!claims.success) throw unauthorized("The token's claims are invalid (sub, exp, iat)");
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

/**
 * A signed HS256 token for `sub`, valid for `ttlSeconds` (default 24 h), carrying `iss` and `aud`
 * when given (set them from AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE, which the API then requires).
 */
export function issueToken(
  secret: string,
  sub: string,
  opts: { admin?: boolean; ttlSeconds?: number; issuer?: string; audience?: string } = {},
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
      ...(opts.issuer !== undefined ? { iss: opts.issuer } : {}),
      ...(opts.audience !== undefined ? { aud: opts.audience } : {}),
      ...(opts.admin ? { role: "admin" } : {}),
    },
    secret,
  );
}
