import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import { JwtError, signHs256, verifyHs256 } from "../../src/platform/http/jwt.ts";

const secret = "unit-test-secret-unit-test-secret-0123";
const now = Math.floor(Date.now() / 1000);

Deno.test("jwt: round trip, and tokens of another HS256 implementation verify", async () => {
  const t = signHs256({ sub: "alice", exp: now + 60 }, secret);
  assert.deepEqual(verifyHs256(t, secret), { sub: "alice", exp: now + 60 });
  const hono = await sign({ sub: "bob", exp: now + 60 }, secret, "HS256");
  assert.equal(verifyHs256(hono, secret).sub, "bob");
});

Deno.test("jwt: refusals", async () => {
  const ok = signHs256({ sub: "a", exp: now + 60 }, secret);
  const [h, p] = ok.split(".");
  const none = `${btoa('{"alg":"none"}').replace(/=/g, "")}.${p}.`;
  const refused: [string, string][] = [
    [
      signHs256({ sub: "a", exp: now + 60 }, "another-secret-another-secret-another"),
      "bad signature",
    ],
    [signHs256({ sub: "a", exp: now - 1 }, secret), "expired"],
    [signHs256({ sub: "a" }, secret), "expired"],
    [signHs256({ sub: "a", exp: now + 60, nbf: now + 30 }, secret), "not yet valid"],
    [none, "algorithm not allowed"],
    [await sign({ sub: "a", exp: now + 60 }, secret, "HS512"), "algorithm not allowed"],
    [
      `${h}.${btoa('{"sub":"admin","exp":9999999999}').replace(/=/g, "")}.${ok.split(".")[2]}`,
      "bad signature",
    ],
    ["a.b", "not a JWT"],
    ["!!.??.xx", "undecodable"],
  ];
  for (const [token, why] of refused) {
    assert.throws(() => verifyHs256(token, secret), (e: unknown) => {
      assert.ok(e instanceof JwtError);
      assert.equal(e.message, why);
      return true;
    });
  }
});

/** `verifyHs256`'s refusal of `payload` under `limits`, or "ok". */
function verdict(payload: Record<string, unknown>, limits: Parameters<typeof verifyHs256>[2]) {
  try {
    verifyHs256(signHs256(payload, secret), secret, limits);
    return "ok";
  } catch (e) {
    assert.ok(e instanceof JwtError);
    return e.message;
  }
}

Deno.test("jwt: a maximum lifetime (exp - iat) needs iat, not in the future", () => {
  const day = { maxLifetimeS: 86_400 };
  const cases: [Record<string, unknown>, string][] = [
    [{ sub: "a", iat: now, exp: now + 86_400 }, "ok"],
    [{ sub: "a", iat: now - 3600, exp: now + 60 }, "ok"],
    [{ sub: "a", iat: now, exp: 9_999_999_999 }, "lifetime too long"],
    [{ sub: "a", iat: now, exp: now + 86_401 }, "lifetime too long"],
    // Without iat the lifetime cannot be told; an iat ahead of the clock would hide a longer one.
    [{ sub: "a", exp: now + 60 }, "no iat"],
    [{ sub: "a", iat: "yesterday", exp: now + 60 }, "no iat"],
    [{ sub: "a", iat: now + 3600, exp: now + 3660 }, "issued in the future"],
    // Another host's clock may run a little ahead.
    [{ sub: "a", iat: now + 30, exp: now + 90 }, "ok"],
  ];
  for (const [payload, expected] of cases) {
    assert.equal(verdict(payload, day), expected, JSON.stringify(payload));
  }
  // Without the limit (the primitive's default) neither is checked.
  assert.equal(verdict({ sub: "a", exp: 9_999_999_999 }, {}), "ok");
});

Deno.test("jwt: issuer and audience are checked only when given", () => {
  const base = { sub: "a", iat: now, exp: now + 60 };
  const cases: [Record<string, unknown>, Parameters<typeof verifyHs256>[2], string][] = [
    [{ ...base, iss: "shop" }, { issuer: "shop" }, "ok"],
    [base, { issuer: "shop" }, "wrong issuer"],
    [{ ...base, iss: "other" }, { issuer: "shop" }, "wrong issuer"],
    [{ ...base, aud: "shop-api" }, { audience: "shop-api" }, "ok"],
    [{ ...base, aud: ["billing", "shop-api"] }, { audience: "shop-api" }, "ok"],
    [base, { audience: "shop-api" }, "wrong audience"],
    [{ ...base, aud: "billing" }, { audience: "shop-api" }, "wrong audience"],
    [{ ...base, aud: ["billing"] }, { audience: "shop-api" }, "wrong audience"],
    [
      { ...base, iss: "shop", aud: "x" },
      { issuer: "shop", audience: "shop-api" },
      "wrong audience",
    ],
    // Not configured: whatever the token says is not looked at.
    [{ ...base, iss: "anyone", aud: "anything" }, {}, "ok"],
  ];
  for (const [payload, limits, expected] of cases) {
    assert.equal(verdict(payload, limits), expected, JSON.stringify({ payload, limits }));
  }
});
