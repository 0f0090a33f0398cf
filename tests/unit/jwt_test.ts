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
