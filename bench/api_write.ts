/**
 * API write path: accepted requests/s and p50/p99 of POST /orders and FCFS issue requests under
 * wrk at N connections, next to pgbench running the same SQL transaction on the same database
 * (the hardware limit), with the ratio. pgbench runs first and the API right after, so each
 * ratio comes from neighbouring measurements (the machine drifts; main.ts repeats the pairs:
 * limit, system, limit, system, ...). The relay is drained between phases so one phase's
 * Debezium backlog does not tax the next. No worker runs: cleanup.ts moves the service groups
 * past these events afterwards.
 */
import { issueToken } from "../src/platform/http/auth.ts";
import type { Config } from "../src/platform/config.ts";
import { connect, type Sql } from "../src/platform/db.ts";
import { waitFor } from "../src/platform/wait_for.ts";
import type { Scratch } from "./cleanup.ts";
import type { UsageMeter } from "./resources.ts";
import { percentile } from "./stats.ts";

export interface Phase {
  name: string;
  connections: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  total: number;
}

export interface WriteResult {
  scenario: "orders" | "issue-requests";
  connections: number;
  /** Missing if that half failed (see `errors`); the other half is still measured. */
  api?: Phase;
  pgbench?: Phase;
  /** When each was measured (the limit first): the alternation, visible in the report. */
  pgbenchAt: string;
  apiAt: string;
  /** NaN if either half failed. */
  ratio: number;
  errors?: string[];
}

export const API_PORT = 8091;
const here = new URL(".", import.meta.url).pathname;

export async function ensureWrk(): Promise<void> {
  const has = await new Deno.Command("sh", { args: ["-c", "command -v wrk"] }).output();
  if (has.success) return;
  if (Deno.uid() !== 0) throw new Error("wrk is missing: apt-get install -y wrk");
  const out = await new Deno.Command("apt-get", { args: ["install", "-y", "wrk"] }).output();
  if (!out.success) throw new Error("could not install wrk (apt-get install -y wrk)");
}

export async function startApi(secret: string): Promise<Deno.ChildProcess> {
  const p = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${here}../src/main/api.ts`],
    env: { ...Deno.env.toObject(), PORT: String(API_PORT), AUTH_JWT_SECRET: secret },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitFor(async () => (await fetch(`http://127.0.0.1:${API_PORT}/health/ready`)).ok, {
    timeoutMs: 30_000,
    what: "the API to be ready",
  });
  return p;
}

/** Waits until Debezium has confirmed everything written so far. */
export async function drainRelay(sql: Sql): Promise<void> {
  const [{ lsn }] = await sql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
  await waitFor(async () => {
    const [row] = await sql<{ done: boolean }[]>`
      select confirmed_flush_lsn >= ${lsn}::pg_lsn as done
      from pg_replication_slots where slot_name = 'shop_outbox'`;
    return row?.done;
  }, { timeoutMs: 300_000, intervalMs: 500, what: "the relay to catch up" });
}

export async function wrk(
  tokensFile: string,
  connections: number,
  seconds: number,
  method: string,
  path: string,
  body: string,
): Promise<Phase> {
  const out = await new Deno.Command("wrk", {
    args: [
      "-t2",
      `-c${connections}`,
      `-d${seconds}s`,
      "--timeout",
      "10s",
      "-s",
      `${here}wrk/rotate_tokens.lua`,
      `http://127.0.0.1:${API_PORT}`,
    ],
    env: { TOKENS_FILE: tokensFile, THREADS: "2", METHOD: method, PATH_: path, BODY: body },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith("{"));
  if (!line) throw new Error(`wrk failed: ${text}${new TextDecoder().decode(out.stderr)}`);
  const r = JSON.parse(line);
  return {
    name: "api",
    connections,
    perSecond: Math.round(r.accepted / (r.durationUs / 1e6)),
    p50Ms: r.p50Us / 1000,
    p99Ms: r.p99Us / 1000,
    total: r.accepted,
  };
}

async function pgbench(
  cfg: Config,
  script: string,
  vars: Record<string, string>,
  connections: number,
  seconds: number,
): Promise<Phase> {
  const url = new URL(cfg.databaseUrl);
  const dir = await Deno.makeTempDir();
  const out = await new Deno.Command("pgbench", {
    args: [
      "-n",
      "-M",
      "prepared",
      `-c${connections}`,
      "-j2",
      `-T${seconds}`,
      "-l",
      `--log-prefix=${dir}/tx`,
      "-f",
      `${here}pgbench/${script}`,
      ...Object.entries(vars).flatMap(([k, v]) => ["-D", `${k}=${v}`]),
      "-h",
      url.hostname,
      "-p",
      url.port || "5432",
      "-U",
      decodeURIComponent(url.username),
      url.pathname.slice(1),
    ],
    env: url.password ? { PGPASSWORD: decodeURIComponent(url.password) } : {},
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    // Every aborted client repeats the error: its first line says it.
    const all = text + new TextDecoder().decode(out.stderr);
    const aborted = all.match(/client \d+ script \d+ aborted/g)?.length ?? 0;
    const first = all.split("\n").find((l) => /ERROR|error:/.test(l)) ?? all.slice(-500);
    throw new Error(`pgbench failed (${aborted} clients aborted): ${first.trim()}`);
  }
  const latencies: number[] = [];
  for await (const f of Deno.readDir(dir)) {
    for (const line of (await Deno.readTextFile(`${dir}/${f.name}`)).split("\n")) {
      const us = Number(line.split(" ")[2]);
      if (Number.isFinite(us) && line) latencies.push(us / 1000);
    }
  }
  await Deno.remove(dir, { recursive: true });
  latencies.sort((a, b) => a - b);
  const tps = Number(/tps = ([\d.]+)/.exec(text)?.[1] ?? NaN);
  return {
    name: "pgbench",
    connections,
    perSecond: Math.round(tps),
    p50Ms: Math.round(percentile(latencies, 0.5) * 100) / 100,
    p99Ms: Math.round(percentile(latencies, 0.99) * 100) / 100,
    total: latencies.length,
  };
}

/** One pass: at each connection count, each scenario's pgbench then API phase. */
export async function apiWriteBench(
  cfg: Config,
  opts: { connections: number[]; seconds: number },
  scratch: Scratch,
  meter?: UsageMeter,
): Promise<WriteResult[]> {
  await ensureWrk();
  const measure = <T>(label: string, fn: () => Promise<T>) =>
    meter ? meter.window(label, fn) : fn();
  const secret = Array.from(crypto.getRandomValues(new Uint8Array(24)), (b) => b.toString(16))
    .join("").padEnd(40, "0");
  const sql = connect(cfg.databaseUrl, { max: 2, applicationName: "bench" });
  const api = await startApi(secret);
  const tokensFile = await Deno.makeTempFile({ suffix: ".tokens" });
  try {
    const admin = await issueToken(secret, scratch.user("admin"), { admin: true });
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`http://127.0.0.1:${API_PORT}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (res.status !== 201) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return await res.json();
    };
    const product = await post("/products", { name: "bench", price: 1000, stock: 1_000_000_000 });
    scratch.products.push(product.id);
    // Distinct users: enough tokens that no FCFS request repeats a user within a phase (each
    // connection count has a coupon of its own).
    const count = Math.max(50_000, opts.seconds * 6_000);
    const lines: string[] = [];
    for (let i = 0; i < count; i++) lines.push(await issueToken(secret, scratch.user(`b${i}`)));
    await Deno.writeTextFile(tokensFile, lines.join("\n") + "\n");
    // pgbench's users: named like the bench's so that cleanup finds their orders.
    const pgbUsers = scratch.user("pgb");

    const results: WriteResult[] = [];
    for (const connections of opts.connections) {
      const coupon = await post("/coupons", {
        name: "bench",
        discount: { type: "fixed", amount: 1 },
        totalQuantity: 10_000_000,
      });
      scratch.coupons.push(coupon.id);
      const scenarios: {
        scenario: WriteResult["scenario"];
        path: string;
        body: string;
        script: string;
        vars: Record<string, string>;
      }[] = [
        {
          scenario: "issue-requests",
          path: `/coupons/${coupon.id}/issue-requests`,
          body: "",
          script: "issue_request.sql",
          vars: { coupon: coupon.id, users: pgbUsers },
        },
        {
          scenario: "orders",
          path: "/orders",
          body: JSON.stringify({ items: [{ productId: product.id, quantity: 1 }] }),
          script: "place_order.sql",
          vars: { product: product.id, users: pgbUsers },
        },
      ];
      for (const s of scenarios) {
        const label = `${connections} ${s.scenario}`;
        await drainRelay(sql);
        const errors: string[] = [];
        const failed = (err: unknown) =>
          void errors.push(err instanceof Error ? err.message : String(err));
        const pgbenchAt = new Date().toISOString();
        const pgPhase = await measure(
          `${label} pgbench`,
          () => pgbench(cfg, s.script, s.vars, connections, opts.seconds),
        ).catch(failed);
        await drainRelay(sql);
        const apiAt = new Date().toISOString();
        const apiPhase = await measure(
          `${label} API`,
          () => wrk(tokensFile, connections, opts.seconds, "POST", s.path, s.body),
        ).catch(failed);
        const ratio = apiPhase && pgPhase
          ? Math.round((apiPhase.perSecond / pgPhase.perSecond) * 100) / 100
          : NaN;
        console.log(
          `  ${label}: pgbench ${pgPhase?.perSecond}/s, API ${apiPhase?.perSecond}/s, ${ratio}` +
            errors.map((e) => `\n    ${e}`).join(""),
        );
        results.push({
          scenario: s.scenario,
          connections,
          api: apiPhase || undefined,
          pgbench: pgPhase || undefined,
          pgbenchAt,
          apiAt,
          ratio,
          ...(errors.length ? { errors } : {}),
        });
      }
    }
    await drainRelay(sql);
    return results;
  } finally {
    api.kill("SIGTERM");
    await api.status;
    await sql.end();
    await Deno.remove(tokensFile);
  }
}
