/**
 * Security basics against the real API process: tokens and the signing secret never reach a log
 * line, and SQL-looking input is stored as plain text.
 */
import assert from "node:assert/strict";
import { adminToken, JWT_SECRET, newUser } from "../helpers/api.ts";
import { signHs256 } from "../../src/platform/http/jwt.ts";
import { real } from "../helpers/stack.ts";
import { startApiProcess } from "../helpers/api_process.ts";

Deno.test("security: tokens and the secret never appear in the API's logs", real, async () => {
  const api = await startApiProcess();
  const before = (await Deno.readTextFile(api.logPath).catch(() => "")).length;
  try {
    const user = newUser("sec");
    const admin = adminToken();
    const forged = signHs256(
      { sub: "mallory", exp: Date.now() / 1000 + 60 },
      "another-secret-another-secret-123456",
    );
    const get = (token: string, path: string) =>
      fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${token}` } }).then((r) =>
        r.body?.cancel()
      );
    await get(user.token, "/wallet");
    await get(admin, "/orders");
    await get(forged, "/wallet");
    await get(`${user.token}x`, "/wallet");
    await fetch(`${api.url}/wallet/charges`, {
      method: "POST",
      headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
      body: JSON.stringify({ amount: 1, password: "hunter2-hunter2" }),
    }).then((r) => r.body?.cancel());
  } finally {
    await api.stop();
  }
  const log = (await Deno.readTextFile(api.logPath)).slice(before);
  assert.ok(log.includes('"msg":"request"'), "requests were logged");
  for (const secret of [JWT_SECRET, "hunter2-hunter2"]) {
    assert.ok(!log.includes(secret), "secret in the log");
  }
  for (const line of log.split("\n")) {
    assert.doesNotMatch(line, /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./, "a JWT in the log");
    assert.doesNotMatch(line, /authorization|bearer/i, "an Authorization header in the log");
  }
});

Deno.test("security: SQL-looking input is stored and returned as text", real, async () => {
  const api = await startApiProcess();
  try {
    const name = `Robert'); DROP TABLE products;-- "x" \\ ${crypto.randomUUID()}`;
    const res = await fetch(`${api.url}/products`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken()}`, "content-type": "application/json" },
      body: JSON.stringify({ name, price: 1, stock: 1 }),
    });
    assert.equal(res.status, 201);
    const { id } = await res.json();
    const read = await fetch(`${api.url}/products/${id}`, {
      headers: { authorization: `Bearer ${newUser().token}` },
    });
    assert.equal((await read.json()).name, name);
  } finally {
    await api.stop();
  }
});
