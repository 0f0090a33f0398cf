/**
 * Hot coupon: 20,000 distinct users request one coupon of 1,000 (wrk, 64 connections, through
 * the API). All requests share the coupon's key, so one partition and one consumer decide them
 * all. Two runs: (1) the issuer running during the load: acceptance rate and time until every
 * request is terminal; (2) the requests accepted while the issuer is stopped, then the issuer
 * started: how fast one partition drains (decisions per second, first to last decision).
 */
import type { Config } from "../src/platform/config.ts";
import { connect } from "../src/platform/db.ts";
import { issueToken } from "../src/platform/http/auth.ts";
import { waitFor } from "../src/platform/wait_for.ts";
import { Workers } from "../tests/helpers/workers.ts";
import { API_PORT, startApi, stopApi } from "./api_process.ts";
import { ensureWrk, wrk } from "./wrk.ts";
import type { Scratch } from "./cleanup.ts";
import type { UsageMeter } from "./resources.ts";

export interface HotCouponResult {
  users: number;
  coupons: number;
  /** Issuer running during the load. */
  live: { acceptedPerSecond: number; allTerminalSeconds: number; issued: number };
  /** Backlog accepted first, then drained by a fresh issuer. */
  drain: {
    acceptedPerSecond: number;
    drainSeconds: number;
    decisionsPerSecond: number;
    issued: number;
  };
}

export async function hotCoupon(
  cfg: Config,
  scratch: Scratch,
  opts: { users?: number; coupons?: number; meter?: UsageMeter } = {},
): Promise<HotCouponResult> {
  const { users = 20_000, coupons = 1_000, meter } = opts;
  const measure = <T>(label: string, fn: () => Promise<T>) =>
    meter ? meter.window(label, fn) : fn();
  await ensureWrk();
  const secret = crypto.randomUUID() + crypto.randomUUID();
  const sql = connect(cfg.databaseUrl, { max: 2, applicationName: "bench" });
  const workers = new Workers();
  const api = await startApi(secret);
  const tokensFile = await Deno.makeTempFile({ suffix: ".tokens" });
  try {
    const admin = issueToken(secret, scratch.user("admin"), { admin: true });
    const newCoupon = async () => {
      const res = await fetch(`http://127.0.0.1:${API_PORT}/coupons`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify({
          name: "hot",
          discount: { type: "fixed", amount: 1 },
          totalQuantity: coupons,
        }),
      });
      const id = (await res.json()).id as string;
      scratch.coupons.push(id);
      return id;
    };
    // Tokens are minted before the clock starts, so the timings hold only the load and the issuer.
    const mint = async (couponId: string) => {
      // Fresh users per coupon: one request per (coupon, user) is the rule under test anyway.
      const lines = Array.from(
        { length: users },
        (_, i) => issueToken(secret, scratch.user(`${couponId.slice(-6)}-${i}`)),
      );
      await Deno.writeTextFile(tokensFile, lines.join("\n") + "\n");
    };
    const load = async (couponId: string) => {
      // Long enough for every token once at the measured rate; a repeat is a 200, not counted.
      return await wrk(
        tokensFile,
        64,
        Math.ceil(users / 2000) + 2,
        "POST",
        `/coupons/${couponId}/issue-requests`,
        "",
      );
    };
    const settled = async (couponId: string) => {
      await waitFor(async () => {
        const [r] = await sql<{ n: number }[]>`
          select count(*)::int as n from coupon_requests where coupon_id = ${couponId} and status = 'PENDING'`;
        return r.n === 0;
      }, { timeoutMs: 600_000, intervalMs: 100, what: "every request to be decided" });
      const [d] = await sql<{ n: number; issued: number; span: number }[]>`
        select count(*)::int as n, count(*) filter (where status = 'ISSUED')::int as issued,
               extract(epoch from max(updated_at) - min(updated_at))::float8 as span
        from coupon_requests where coupon_id = ${couponId}`;
      return d;
    };

    await workers.start("coupon-issuer");
    const live = await newCoupon();
    await mint(live);
    const { liveLoad, liveDone, allTerminalSeconds } = await measure("issuer live", async () => {
      const started = performance.now();
      const liveLoad = await load(live);
      const liveDone = await settled(live);
      return { liveLoad, liveDone, allTerminalSeconds: (performance.now() - started) / 1000 };
    });
    await workers.stop("coupon-issuer");

    const backlog = await newCoupon();
    await mint(backlog);
    const backlogLoad = await load(backlog);
    const drained = await measure("backlog drain", async () => {
      await workers.start("coupon-issuer");
      return await settled(backlog);
    });
    return {
      users,
      coupons,
      live: {
        acceptedPerSecond: liveLoad.perSecond,
        allTerminalSeconds: Math.round(allTerminalSeconds * 10) / 10,
        issued: liveDone.issued,
      },
      drain: {
        acceptedPerSecond: backlogLoad.perSecond,
        drainSeconds: Math.round(drained.span * 100) / 100,
        decisionsPerSecond: Math.round(drained.n / Math.max(drained.span, 0.001)),
        issued: drained.issued,
      },
    };
  } finally {
    await workers.stopAll();
    await stopApi(api);
    await sql.end();
    await Deno.remove(tokensFile);
  }
}

if (import.meta.main) {
  const { parseConfig } = await import("../src/platform/config.ts");
  const { Scratch, restore } = await import("./cleanup.ts");
  const { kafkaAccess, kafkaClient } = await import("../src/platform/kafka.ts");
  const { PRINCIPALS } = await import("../src/kafka_acls.ts");
  const cfg = parseConfig(Deno.env.toObject());
  const sql = connect(cfg.databaseUrl, { max: 1 });
  const kafka = kafkaClient(kafkaAccess(cfg, PRINCIPALS.bench), "bench-cleanup");
  const admin = kafka.admin();
  await admin.connect();
  const scratch = await Scratch.open(sql);
  await sql.end();
  try {
    console.log(await hotCoupon(cfg, scratch));
  } finally {
    console.log(await restore(cfg, kafka, admin, scratch));
    await admin.disconnect();
  }
}
