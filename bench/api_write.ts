/**
 * API write path: accepted requests/s and p50/p99 of POST /orders and FCFS issue requests under
 * wrk at N connections, next to pgbench running the same SQL transaction on the same database
 * in the same run (the hardware limit), with the ratio. The relay is drained between phases so
 * one phase's Debezium backlog does not tax the next.
 */
import { issueToken } from "../src/platform/http/auth.ts";
import type { Config } from "../src/platform/config.ts";
import { connect, type Sql } from "../src/platform/db.ts";
import { waitFor } from "../src/platform/wait_for.ts";
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
  api: Phase;
  pgbench: Phase;
  ratio: number;
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
    args: ["run", "-A", `${here}../src/api.ts`],
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
    throw new Error(`pgbench failed: ${text}${new TextDecoder().decode(out.stderr)}`);
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

export async function apiWriteBench(
  cfg: Config,
  opts: { connections: number; seconds: number },
): Promise<WriteResult[]> {
  await ensureWrk();
  const secret = Array.from(crypto.getRandomValues(new Uint8Array(24)), (b) => b.toString(16))
    .join("").padEnd(40, "0");
  const sql = connect(cfg.databaseUrl, { max: 2, applicationName: "bench" });
  const api = await startApi(secret);
  const run = crypto.randomUUID().slice(0, 8);
  const tokensFile = await Deno.makeTempFile({ suffix: ".tokens" });
  try {
    const admin = await issueToken(secret, "bench-admin", { admin: true });
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
    const coupon = await post("/coupons", {
      name: "bench",
      discount: { type: "fixed", amount: 1 },
      totalQuantity: 10_000_000,
    });
    // Distinct users: enough tokens that no FCFS request repeats a user within the run.
    const count = Math.max(50_000, opts.seconds * 6_000);
    const lines: string[] = [];
    for (let i = 0; i < count; i++) lines.push(await issueToken(secret, `b${run}-${i}`));
    await Deno.writeTextFile(tokensFile, lines.join("\n") + "\n");

    const results: WriteResult[] = [];
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
        vars: { coupon: coupon.id },
      },
      {
        scenario: "orders",
        path: "/orders",
        body: JSON.stringify({ items: [{ productId: product.id, quantity: 1 }] }),
        script: "place_order.sql",
        vars: { product: product.id },
      },
    ];
    for (const s of scenarios) {
      await drainRelay(sql);
      const apiPhase = await wrk(
        tokensFile,
        opts.connections,
        opts.seconds,
        "POST",
        s.path,
        s.body,
      );
      await drainRelay(sql);
      const pgPhase = await pgbench(cfg, s.script, s.vars, opts.connections, opts.seconds);
      results.push({
        scenario: s.scenario,
        api: apiPhase,
        pgbench: pgPhase,
        ratio: Math.round((apiPhase.perSecond / pgPhase.perSecond) * 100) / 100,
      });
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
