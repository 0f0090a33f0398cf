/**
 * Orders end to end: 202 to CONFIRMED at a fixed arrival rate (open loop: orders are sent on
 * schedule whatever the answers), through the real API process, relay and workers. The latency
 * of each order is `updated_at - created_at` of its row: both stamped by Postgres, at the API's
 * insert and at the saga's confirmation.
 */
import type { Config } from "../src/platform/config.ts";
import { connect } from "../src/platform/db.ts";
import { issueToken } from "../src/platform/http/auth.ts";
import { waitFor } from "../src/platform/wait_for.ts";
import { Workers } from "../tests/helpers/workers.ts";
import { summarize, type Summary } from "./stats.ts";

const API_PORT = 8092;
const here = new URL(".", import.meta.url).pathname;

export interface LatencyResult {
  ratePerSecond: number;
  seconds: number;
  sent: number;
  confirmed: number;
  latencyMs: Summary;
}

/**
 * Runs each phase in turn on one API process and one set of workers; with `untilP99Ms`, stops
 * after the first phase whose p99 exceeds it (a sweep for the highest sustainable rate).
 */
export async function orderLatency(
  cfg: Config,
  phases: { ratePerSecond: number; seconds: number }[],
  untilP99Ms = Infinity,
): Promise<LatencyResult[]> {
  const secret = crypto.randomUUID() + crypto.randomUUID();
  const api = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${here}../src/api.ts`],
    env: { PORT: String(API_PORT), AUTH_JWT_SECRET: secret, LOG_LEVEL: "warn" },
    stdout: "null",
  }).spawn();
  const workers = new Workers();
  const sql = connect(cfg.databaseUrl, { max: 2, applicationName: "bench" });
  try {
    await Promise.all([
      workers.start(),
      waitFor(async () => (await fetch(`http://127.0.0.1:${API_PORT}/health/ready`)).ok, {
        timeoutMs: 30_000,
        what: "the API",
      }),
    ]);
    const base = `http://127.0.0.1:${API_PORT}`;
    const post = async (token: string, path: string, body: unknown) => {
      const res = await fetch(base + path, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    const admin = issueToken(secret, "bench-admin", { admin: true });
    const product =
      (await post(admin, "/products", { name: "lat", price: 100, stock: 1_000_000_000 })).body.id;
    const run = crypto.randomUUID().slice(0, 8);
    const users = Array.from({ length: 200 }, (_, i) => issueToken(secret, `lat${run}-${i}`));
    await Promise.all(users.map((t) => post(t, "/wallet/charges", { amount: 1_000_000_000 })));

    const results: LatencyResult[] = [];
    for (const opts of phases) {
      const total = opts.ratePerSecond * opts.seconds;
      const ids: string[] = [];
      const sends: Promise<void>[] = [];
      const start = performance.now();
      for (let i = 0; i < total; i++) {
        const due = start + (i * 1000) / opts.ratePerSecond;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        sends.push(
          post(users[i % users.length], "/orders", { items: [{ productId: product, quantity: 1 }] })
            .then((r) => {
              if (r.status !== 202) throw new Error(`order refused: ${r.status}`);
              ids.push(r.body.orderId);
            }),
        );
      }
      await Promise.all(sends);
      await waitFor(async () => {
        const [r] = await sql<{ n: number }[]>`
          select count(*)::int as n from orders where id = any(${ids}::uuid[]) and status = 'PENDING'`;
        return r.n === 0;
      }, { timeoutMs: 300_000, intervalMs: 200, what: "every order to settle" });
      const rows = await sql<{ ms: number; status: string }[]>`
        select extract(epoch from (updated_at - created_at)) * 1000 as ms, status
        from orders where id = any(${ids}::uuid[])`;
      const confirmed = rows.filter((r) => r.status === "CONFIRMED");
      const result = {
        ratePerSecond: opts.ratePerSecond,
        seconds: opts.seconds,
        sent: total,
        confirmed: confirmed.length,
        latencyMs: summarize(confirmed.map((r) => Number(r.ms))),
      };
      results.push(result);
      console.log(
        `  orders at ${opts.ratePerSecond}/s: p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`,
      );
      if (result.latencyMs.p99 > untilP99Ms) break;
    }
    return results;
  } finally {
    await workers.stopAll();
    api.kill("SIGTERM");
    await api.status;
    await sql.end();
  }
}
