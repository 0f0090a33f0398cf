/**
 * The API's token policy end to end: by default a token may live 24 h at most (`exp - iat`) and
 * must say when it was issued; AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE, when configured, must be in
 * every token; `deno task token` puts them there. A refusal is 401 problem+json. Before, a token
 * with `exp: 9999999999` (and no `iat`, `iss` or `aud`) was accepted.
 */
import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import { issueToken } from "../../src/platform/http/auth.ts";
import { api, JWT_SECRET } from "../helpers/api.ts";
import { unique } from "../helpers/stack.ts";

const now = Math.floor(Date.now() / 1000);

/** GET /wallet with `token`: its status and content type. */
async function wallet(call: ReturnType<typeof api>["call"], token: string) {
  const res = await call("GET", "/wallet", { token });
  return { status: res.status, type: res.headers.get("content-type") };
}

const unauthorized = { status: 401, type: "application/problem+json" };
const ok = { status: 200, type: "application/json" };

Deno.test("token policy: at most 24 h between iat and exp by default, iat required", async () => {
  const { call } = api();
  const sub = unique("life-");
  const cases: [string, Record<string, unknown>, typeof ok][] = [
    ["a day", { sub, iat: now, exp: now + 86_400 }, ok],
    ["exp 9999999999", { sub, iat: now, exp: 9_999_999_999 }, unauthorized],
    ["exp 9999999999, no iat", { sub, exp: 9_999_999_999 }, unauthorized],
    ["no iat", { sub, exp: now + 60 }, unauthorized],
    ["a day and a second", { sub, iat: now, exp: now + 86_401 }, unauthorized],
  ];
  for (const [name, payload, expected] of cases) {
    assert.deepEqual(await wallet(call, await sign(payload, JWT_SECRET, "HS256")), expected, name);
  }
});

Deno.test("token policy: a shorter maximum, an issuer and an audience when configured", async () => {
  const { call } = api({ jwt: { maxLifetimeS: 600, issuer: "shop-auth", audience: "shop-api" } });
  const sub = unique("iss-");
  const good = { issuer: "shop-auth", audience: "shop-api", ttlSeconds: 600 };
  const cases: [string, string, typeof ok][] = [
    ["issuer, audience, 10 min", issueToken(JWT_SECRET, sub, good), ok],
    ["11 min", issueToken(JWT_SECRET, sub, { ...good, ttlSeconds: 660 }), unauthorized],
    ["no issuer", issueToken(JWT_SECRET, sub, { ...good, issuer: undefined }), unauthorized],
    ["another issuer", issueToken(JWT_SECRET, sub, { ...good, issuer: "x" }), unauthorized],
    ["no audience", issueToken(JWT_SECRET, sub, { ...good, audience: undefined }), unauthorized],
    ["another audience", issueToken(JWT_SECRET, sub, { ...good, audience: "x" }), unauthorized],
  ];
  for (const [name, token, expected] of cases) {
    assert.deepEqual(await wallet(call, token), expected, name);
  }
  // The admin routes of the console follow the same policy.
  const admin = (o: Parameters<typeof issueToken>[2]) => issueToken(JWT_SECRET, "adm", o);
  assert.equal(
    (await call("GET", "/ops/api/orders/not-an-id/timeline", {
      token: admin({ admin: true, ttlSeconds: 600 }),
    })).status,
    401,
  );
  assert.equal(
    (await call("GET", "/ops/api/orders/not-an-id/timeline", {
      token: admin({ ...good, admin: true }),
    })).status,
    404,
  );
});

/** The payload `deno task token` prints with `env`. */
async function taskToken(env: Record<string, string>): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../src/main/token.ts", import.meta.url).pathname,
      "alice",
      "--admin",
    ],
    env: { AUTH_JWT_SECRET: JWT_SECRET, ...env },
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const token = new TextDecoder().decode(out.stdout).trim();
  return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
}

Deno.test("token policy: deno task token carries the configured issuer, audience, lifetime", async () => {
  const plain = await taskToken({});
  assert.equal(plain.exp as number - (plain.iat as number), 86_400);
  assert.equal(plain.iss, undefined);
  assert.equal(plain.aud, undefined);
  const set = await taskToken({
    AUTH_JWT_ISSUER: "shop-auth",
    AUTH_JWT_AUDIENCE: "shop-api",
    AUTH_JWT_MAX_LIFETIME_S: "3600",
  });
  assert.equal(set.iss, "shop-auth");
  assert.equal(set.aud, "shop-api");
  assert.equal(set.exp as number - (set.iat as number), 3600);
  assert.equal(set.role, "admin");
});
