/**
 * The relay's credentials: the connector config never carries a password (a config provider
 * placeholder instead) nor the owner's user, and only Connect workers get the password variable.
 */
import assert from "node:assert/strict";
import { connectorConfig } from "../../relay/register.ts";
import {
  RELAY_PASSWORD_PLACEHOLDER,
  RELAY_PASSWORD_VAR,
  RELAY_ROLE,
  scramVerifier,
} from "../../relay/role.ts";
import { jvmEnv } from "../../stack/components.ts";
import { parseConfig } from "../../src/platform/config.ts";

Deno.test("relay secrets: the connector logs in as the relay role with a placeholder", async () => {
  for (
    const env of [
      { DATABASE_URL: "postgres://owner:0wner-Secret@db.internal:6543/shopdb" },
      {
        DATABASE_URL: "postgres://owner:0wner-Secret@db.internal:6543/shopdb",
        RELAY_DATABASE_URL: "postgres://other:0wner-Secret@postgres:5432/shopdb",
      },
    ]
  ) {
    const { config: c } = await connectorConfig(parseConfig(env));
    assert.equal(c["database.user"], RELAY_ROLE);
    assert.equal(c["database.password"], RELAY_PASSWORD_PLACEHOLDER);
    assert.equal(c["database.password"], "${env:RELAY_DATABASE_PASSWORD}");
    const text = JSON.stringify(c);
    assert.ok(!text.includes("0wner-Secret"), "the URL's password is nowhere in the config");
    assert.ok(!/"(owner|other)"/.test(text), "nor its user");
  }
});

Deno.test("relay secrets: only Connect workers get the password variable", () => {
  const from = { PATH: "/usr/bin", [RELAY_PASSWORD_VAR]: "hunter2" };
  assert.deepEqual(jvmEnv(false, from), { PATH: "/usr/bin" });
  // The caller's wins over the stack's own, as a deployment's does.
  assert.deepEqual(jvmEnv("stack-own", from), from);
  assert.equal(jvmEnv("stack-own", { PATH: "/usr/bin" })[RELAY_PASSWORD_VAR], "stack-own");
});

Deno.test("relay secrets: the SCRAM verifier has PostgreSQL's shape and depends on the salt", async () => {
  const salt = new Uint8Array(16).fill(7);
  const a = await scramVerifier("pencil", salt);
  assert.match(
    a,
    /^SCRAM-SHA-256\$4096:BwcHBwcHBwcHBwcHBwcHBw==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/,
  );
  assert.equal(await scramVerifier("pencil", salt), a);
  assert.notEqual(await scramVerifier("pencil"), a);
  assert.notEqual(await scramVerifier("pencil2", salt), a);
  assert.ok(!a.includes("pencil"));
});
