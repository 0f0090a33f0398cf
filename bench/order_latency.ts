/**
 * Orders end to end: 202 to CONFIRMED at a fixed arrival rate (open loop: orders are sent on
 * schedule whatever the answers), through the real API process, relay and workers. The latency
 * of each order is `updated_at - created_at` of its row: both stamped by Postgres, at the API's
 * insert and at the saga's confirmation. The orders and contention scenarios both run this; they
 * differ in the rates and in how many users (wallets) the orders come from.
 */
import type { Config } from "../src/platform/config.ts";
import { connect } from "../src/platform/db.ts";
import { issueToken } from "../src/platform/http/auth.ts";
import { waitFor } from "../src/platform/wait_for.ts";
import { Workers } from "../tests/helpers/workers.ts";
import type { Scratch } from "./cleanup.ts";
import { stopApi } from "./api_process.ts";
import type { UsageMeter } from "./resources.ts";
import { summarize, type Summary } from "./stats.ts";

const API_PORT = 8092;
const here = new URL(".", import.meta.url).pathname;

export interface LatencyResult {
  ratePerSecond: number;
  seconds: number;
  sent: number;
  /** Answers other than 202, and requests that failed outright. */
  refused: number;
  confirmed: number;
  cancelled: number;
  /** Still PENDING when the bench stopped waiting (no progress for `stallMs`): stuck. */
  pending: number;
  /** 202 to CONFIRMED, of the confirmed orders. */
  latencyMs: Summary;
}

export interface OrderLoad {
  phases: { ratePerSecond: number; seconds: number }[];
  /** Stop after the first phase whose p99 exceeds this (a sweep for the highest rate). */
  untilP99Ms?: number;
  /** Distinct users (wallets) the orders come from, in turn. @default 200 */
  users?: number;
  /**
   * Stop waiting for PENDING orders once none settled for this long: an order whose event was
   * dead-lettered never settles, and the figures of the others are still worth reporting.
   * @default 30000
   */
  stallMs?: number;
  /**
   * Wraps each phase, around its usage window (labelled `<rate>/s` as well): the orders
   * scenario counts each phase's statements and Kafka records with it (order_cost.ts).
   */
  aroundPhase?: <T>(label: string, fn: () => Promise<T>) => Promise<T>;
}

/** Runs each phase in turn on one API process and one set of the five workers. */
export async function orderLatency(
  cfg: Config,
  load: OrderLoad,
  scratch: Scratch,
  meter?: UsageMeter,
): Promise<LatencyResult[]> {
  const { phases, untilP99Ms = Infinity, users: userCount = 200, stallMs = 30_000 } = load;
  const secret = crypto.randomUUID() + crypto.randomUUID();
  const api = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${here}../src/main/api.ts`],
    env: { PORT: String(API_PORT), AUTH_JWT_SECRET: secret, LOG_LEVEL: "warn" },
    stdout: "null",
  }).spawn();
  // BENCH_WORKERS=one-process: every consumer group in one worker process (docs/decisions.md,
  // "One worker process per consumer group"), to compare the CPU per order with five.
  const workers = new Workers({}, { oneProcess: Deno.env.get("BENCH_WORKERS") === "one-process" });
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
    const admin = issueToken(secret, scratch.user("admin"), { admin: true });
    const product =
      (await post(admin, "/products", { name: "lat", price: 100, stock: 1_000_000_000 })).body.id;
    scratch.products.push(product);
    const users = Array.from({ length: userCount }, (_, i) => issueToken(secret, scratch.user(i)));
    await Promise.all(users.map((t) => post(t, "/wallet/charges", { amount: 1_000_000_000 })));

    const phase = async (
      opts: { ratePerSecond: number; seconds: number },
    ): Promise<LatencyResult> => {
      const total = opts.ratePerSecond * opts.seconds;
      const ids: string[] = [];
      const sends: Promise<void>[] = [];
      let refused = 0;
      const start = performance.now();
      for (let i = 0; i < total; i++) {
        const due = start + (i * 1000) / opts.ratePerSecond;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        sends.push(
          post(users[i % users.length], "/orders", { items: [{ productId: product, quantity: 1 }] })
            .then((r) => {
              if (r.status === 202) ids.push(r.body.orderId);
              else refused++;
            }, () => void refused++),
        );
      }
      await Promise.all(sends);
      let pending = Infinity;
      let progressAt = performance.now();
      await waitFor(async () => {
        const [r] = await sql<{ n: number }[]>`
          select count(*)::int as n from orders where id = any(${ids}::uuid[]) and status = 'PENDING'`;
        if (r.n < pending) progressAt = performance.now();
        pending = r.n;
        return pending === 0 || performance.now() - progressAt > stallMs;
      }, { timeoutMs: 600_000, intervalMs: 200, what: "every order to settle" });
      const rows = await sql<{ ms: number; status: string }[]>`
        select extract(epoch from (updated_at - created_at)) * 1000 as ms, status
        from orders where id = any(${ids}::uuid[])`;
      const confirmed = rows.filter((r) => r.status === "CONFIRMED");
      return {
        ratePerSecond: opts.ratePerSecond,
        seconds: opts.seconds,
        sent: total,
        refused,
        confirmed: confirmed.length,
        cancelled: rows.filter((r) => r.status === "CANCELLED").length,
        pending: rows.filter((r) => r.status === "PENDING").length,
        latencyMs: summarize(confirmed.map((r) => Number(r.ms))),
      };
    };

    const results: LatencyResult[] = [];
    const around = load.aroundPhase ?? ((_label, fn) => fn());
    for (const opts of phases) {
      const label = `${opts.ratePerSecond}/s`;
      const result = await around(
        label,
        () => meter ? meter.window(label, () => phase(opts)) : phase(opts),
      );
      results.push(result);
      console.log(
        `  orders at ${opts.ratePerSecond}/s from ${userCount} users: p50 ${result.latencyMs.p50} ms, ` +
          `p99 ${result.latencyMs.p99} ms, ${result.confirmed}/${result.sent} confirmed` +
          (result.pending ? `, ${result.pending} stuck PENDING` : ""),
      );
      if (!(result.latencyMs.p99 <= untilP99Ms)) break;
    }
    return results;
  } finally {
    await workers.stopAll();
    await stopApi(api);
    await sql.end();
  }
}
