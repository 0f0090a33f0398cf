/**
 * API write path: accepted requests/s and p50/p99 of POST /orders and FCFS issue requests under
 * wrk at N connections, next to pgbench running the same SQL transaction on the same database
 * (the hardware limit), with the ratio. pgbench runs first and the API right after, so each
 * ratio comes from neighbouring measurements (alternation.ts; the runs repeat the pairs: limit,
 * system, limit, system, ...). The relay is drained between phases so one phase's
 * Debezium backlog does not tax the next. No worker runs: cleanup.ts moves the service groups
 * past these events afterwards.
 */
import { issueToken } from "../src/platform/http/auth.ts";
import type { Config } from "../src/platform/config.ts";
import { connect } from "../src/platform/db.ts";
import type { Scratch } from "./cleanup.ts";
import type { UsageMeter } from "./resources.ts";
import { API_PORT, startApi, stopApi } from "./api_process.ts";
import type { Phase } from "./phase.ts";
import { pgbench } from "./pgbench.ts";
import { ensureWrk, wrk } from "./wrk.ts";
import { drainRelay } from "./relay_drain.ts";
import { limitThenSystem, ratio } from "./alternation.ts";

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
        const pair = await limitThenSystem({
          settle: () => drainRelay(sql),
          limit: () =>
            measure(
              `${label} pgbench`,
              () => pgbench(cfg, s.script, s.vars, connections, opts.seconds),
            ),
          system: () =>
            measure(
              `${label} API`,
              () => wrk(tokensFile, connections, opts.seconds, "POST", s.path, s.body),
            ),
        });
        const { limit: pgPhase, system: apiPhase, errors } = pair;
        const r = ratio(apiPhase?.perSecond, pgPhase?.perSecond);
        console.log(
          `  ${label}: pgbench ${pgPhase?.perSecond}/s, API ${apiPhase?.perSecond}/s, ${r}` +
            errors.map((e) => `\n    ${e}`).join(""),
        );
        results.push({
          scenario: s.scenario,
          connections,
          api: apiPhase,
          pgbench: pgPhase,
          pgbenchAt: pair.limitAt,
          apiAt: pair.systemAt,
          ratio: r,
          ...(errors.length ? { errors } : {}),
        });
      }
    }
    await drainRelay(sql);
    return results;
  } finally {
    await stopApi(api);
    await sql.end();
    await Deno.remove(tokensFile);
  }
}
