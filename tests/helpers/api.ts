/**
 * Drives the real Hono app in-process (`app.request`, the same fetch handler `Deno.serve` gets)
 * against the stack's real Postgres. Each test makes its own users and products.
 */
import {
  API_POOL,
  API_ROLE,
  type AppDeps,
  createApp,
  decisionNotifications,
  OPS_ROLE,
} from "../../src/app.ts";
import type { Notifications } from "../../src/platform/notifications.ts";
import { logger, setLogLevel } from "../../src/platform/log.ts";
import { issueToken } from "../../src/platform/http/auth.ts";
import { connect, databaseUrlAs, type Sql } from "../../src/platform/db.ts";
import { cfg, unique } from "./stack.ts";

/**
 * The secret the tests sign tokens with and give the API processes they start; against an API
 * that already runs (E2E_API_URL), that API's AUTH_JWT_SECRET.
 */
export const JWT_SECRET = Deno.env.get("AUTH_JWT_SECRET") ||
  "test-secret-that-is-long-enough-0123456789";

setLogLevel("error");

export type Api = ReturnType<typeof api>;

// deno-lint-ignore no-explicit-any
export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

let pools: { sql: Sql; opsSql: Sql; notifications: Notifications } | undefined;

/**
 * The API's pools as `deno task api` opens them: the routes log in as the API's role, the ops
 * console as its own, so every test through `api()` runs under the roles' grants. Shared by the
 * test file's apps and left to the process's exit.
 */
function apiPools(): { sql: Sql; opsSql: Sql; notifications: Notifications } {
  return pools ??= {
    sql: connect(databaseUrlAs(cfg.databaseUrl, API_ROLE), API_POOL),
    // Connects on the first `Prefer: wait` request only.
    notifications: decisionNotifications(
      (handlers) =>
        connect(databaseUrlAs(cfg.databaseUrl, API_ROLE), {
          max: 1,
          applicationName: "api-listen",
          ...handlers,
        }),
      logger("api-test"),
    ),
    opsSql: connect(databaseUrlAs(cfg.databaseUrl, OPS_ROLE), {
      max: 2,
      applicationName: "api-ops",
    }),
  };
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

/** `call(method, path, opts)` over any fetch: the bearer token, a JSON body, a parsed reply. */
function caller(send: (path: string, init: RequestInit) => Response | Promise<Response>) {
  return async (method: string, path: string, opts: CallOptions = {}): Promise<Reply> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined = opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers["content-type"] ??= "application/json";
    }
    const res = await send(path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch { /* not JSON: keep the text */ }
    return { status: res.status, headers: res.headers, body: parsed };
  };
}

/**
 * A client of a fresh in-process app; `opts` override its dependencies (`orderDeadlineMs` as
 * ORDER_DEADLINE_MS, a recording `log`, ...).
 */
export function api(opts: Partial<Omit<AppDeps, "sql" | "opsSql" | "jwtSecret">> = {}) {
  const app = createApp({ ...apiPools(), jwtSecret: JWT_SECRET, log: logger("api-test"), ...opts });
  return { app, call: caller((path, init) => app.request(path, init)) };
}

/** A client of the API at `base` over HTTP, with the same `call` as `api()`'s. */
export function httpApi(base: string): Pick<ReturnType<typeof api>, "call"> {
  return { call: caller((path, init) => fetch(`${base}${path}`, init)) };
}

export function token(sub: string, admin = false): string {
  return issueToken(JWT_SECRET, sub, { admin });
}

/** A fresh user id and token. */
export function newUser(prefix = "u"): { id: string; token: string } {
  const id = unique(`${prefix}-`);
  return { id, token: token(id) };
}

export const adminToken = () => token("admin-tests", true);
