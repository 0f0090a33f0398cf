/**
 * The served OpenAPI document is one client tools accept: Redocly's recommended rules pass
 * (servers, operationIds, 4xx responses...), every operation has a unique operationId, and every
 * operation documents 503 with Retry-After (what a hung or unreachable database answers).
 */
import assert from "node:assert/strict";
import { createConfig, lintFromString } from "@redocly/openapi-core";
import { api } from "../helpers/api.ts";
import { db } from "../helpers/stack.ts";

// Fetched through 127.0.0.1, like a client of the API on this machine: `servers` names it.
async function servedDocument(): Promise<string> {
  const sql = db(1);
  try {
    const res = await api().app.request("http://127.0.0.1:8080/openapi.json");
    assert.equal(res.status, 200);
    return await res.text();
  } finally {
    await sql.end();
  }
}

Deno.test("openapi: redocly lint (recommended) finds no problem", async () => {
  const source = await servedDocument();
  const config = await createConfig({ extends: ["recommended"] });
  const problems = await lintFromString({ source, absoluteRef: "openapi.json", config });
  assert.deepEqual(
    problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`),
    [],
  );
});

Deno.test("openapi: servers, unique operationIds, 503 + Retry-After everywhere", async () => {
  const doc = JSON.parse(await servedDocument());
  assert.deepEqual(doc.servers.map((s: { url: string }) => s.url), ["http://127.0.0.1:8080"]);
  const ops = Object.values(doc.paths as Record<string, Record<string, Record<string, unknown>>>)
    .flatMap((path) => Object.values(path));
  assert.equal(ops.length, 13);
  const ids = ops.map((o) => o.operationId as string);
  assert.ok(ids.every((id) => /^[a-z][A-Za-z]+$/.test(id)), `operationIds: ${ids}`);
  assert.equal(new Set(ids).size, ids.length, "operationIds are unique");
  for (const o of ops) {
    const unavailable = (o.responses as Record<string, { headers?: Record<string, unknown> }>)[
      "503"
    ];
    assert.ok(
      unavailable?.headers?.["Retry-After"],
      `${o.operationId} documents 503 + Retry-After`,
    );
  }
});
