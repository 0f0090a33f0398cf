/**
 * The HTTP metrics' labels are bounded, whatever clients send: a made-up method is counted as
 * `OTHER` (the standard ones keep their name), and the route is the matched route's pattern, never
 * the raw path. Before, each made-up method became a series of its own on every route: 1,000 of
 * them sent to /health/live grew /metrics by 1.24 MB, without end.
 */
import assert from "node:assert/strict";
import { metricsText } from "../../src/platform/metrics.ts";
import { api, newUser } from "../helpers/api.ts";

/** The distinct label sets of `name` in the registry's text (one sample line each). */
async function series(name: string): Promise<Set<string>> {
  const { body } = await metricsText();
  const out = new Set<string>();
  for (const line of body.split("\n")) {
    if (line.startsWith(`${name}{`)) out.add(line.slice(0, line.lastIndexOf("}") + 1));
  }
  return out;
}

Deno.test("metrics: made-up methods and raw paths leave the series count bounded", async () => {
  const { call } = api();
  const user = newUser("labels");
  // Warm up every label set these requests can legitimately produce, then count.
  await call("FOO", "/health/live");
  await call("GET", "/nowhere/warm-up");
  await call("GET", "/orders/warm-up", { token: user.token });
  const before = await series("http_requests_total");
  const durationsBefore = await series("http_request_duration_seconds_count");

  for (let i = 0; i < 300; i++) {
    const method = `M${i}${crypto.randomUUID().slice(0, 8).toUpperCase()}`;
    const res = await call(method, "/health/live");
    assert.ok(res.status < 500, `${method}: ${res.status}`);
  }
  for (let i = 0; i < 100; i++) {
    await call("GET", `/nowhere/${crypto.randomUUID()}`);
    await call("GET", `/orders/${crypto.randomUUID()}`, { token: user.token });
  }

  const after = await series("http_requests_total");
  assert.deepEqual([...after].filter((s) => !before.has(s)), [], "no new http_requests_total");
  const durations = await series("http_request_duration_seconds_count");
  assert.deepEqual([...durations].filter((s) => !durationsBefore.has(s)), []);
  // What the warm-up produced: made-up methods as OTHER, routes as patterns.
  assert.ok([...after].some((s) => s.includes('method="OTHER"')), "OTHER counts them");
  assert.ok(![...after].some((s) => /method="M\d/.test(s)), "no made-up method is a label");
  assert.ok(![...after].some((s) => /route="[^"]*[0-9a-f]{8}-/.test(s)), "no raw path");
});
