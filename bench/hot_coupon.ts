/**
 * Hot coupon: 20,000 distinct users request one coupon of 1,000 at once (wrk, 64 connections,
 * through the API). All requests share the coupon's key, so one partition and one consumer
 * decide them all. Reports the API's acceptance rate, the time until every request is terminal,
 * and the issuer's decisions per second on that partition (first to last decision, from the
 * rows' update times).
 */
import type { Config } from "../src/platform/config.ts";
import { connect } from "../src/platform/db.ts";
import { issueToken } from "../src/platform/http/auth.ts";
import { waitFor } from "../src/platform/wait_for.ts";
import { Workers } from "../tests/helpers/workers.ts";
import { API_PORT, ensureWrk, startApi, wrk } from "./api_write.ts";

export interface HotCouponResult {
  users: number;
  coupons: number;
  acceptedPerSecond: number;
  accepted: number;
  allTerminalSeconds: number;
  decisionsPerSecond: number;
  issued: number;
}

export async function hotCoupon(
  cfg: Config,
  users = 20_000,
  coupons = 1_000,
): Promise<HotCouponResult> {
  await ensureWrk();
  const secret = crypto.randomUUID() + crypto.randomUUID();
  const sql = connect(cfg.databaseUrl, { max: 2, applicationName: "bench" });
  const workers = new Workers();
  const api = await startApi(cfg, secret);
  const tokensFile = await Deno.makeTempFile({ suffix: ".tokens" });
  try {
    await workers.start("coupon-issuer");
    const admin = issueToken(secret, "bench-admin", { admin: true });
    const res = await fetch(`http://127.0.0.1:${API_PORT}/coupons`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({
        name: "hot",
        discount: { type: "fixed", amount: 1 },
        totalQuantity: coupons,
      }),
    });
    const couponId = (await res.json()).id;
    const run = crypto.randomUUID().slice(0, 8);
    const lines = Array.from({ length: users }, (_, i) => issueToken(secret, `hot${run}-${i}`));
    await Deno.writeTextFile(tokensFile, lines.join("\n") + "\n");

    const started = performance.now();
    // wrk runs until stopped: long enough for every token once at the measured rate, and any
    // extra request repeats a user (200, not counted as accepted).
    const load = await wrk(
      tokensFile,
      64,
      Math.ceil(users / 2500) + 2,
      "POST",
      `/coupons/${couponId}/issue-requests`,
      "",
    );
    await waitFor(async () => {
      const [r] = await sql<{ n: number }[]>`
        select count(*)::int as n from coupon_requests where coupon_id = ${couponId} and status = 'PENDING'`;
      return r.n === 0;
    }, { timeoutMs: 600_000, intervalMs: 100, what: "every request to be decided" });
    const allTerminalSeconds = (performance.now() - started) / 1000;
    const [d] = await sql<{ n: number; issued: number; span: number }[]>`
      select count(*)::int as n, count(*) filter (where status = 'ISSUED')::int as issued,
             extract(epoch from max(updated_at) - min(updated_at))::float8 as span
      from coupon_requests where coupon_id = ${couponId}`;
    return {
      users,
      coupons,
      acceptedPerSecond: load.perSecond,
      accepted: d.n,
      allTerminalSeconds: Math.round(allTerminalSeconds * 10) / 10,
      decisionsPerSecond: Math.round(d.n / Math.max(d.span, 0.001)),
      issued: d.issued,
    };
  } finally {
    await workers.stopAll();
    api.kill("SIGTERM");
    await api.status;
    await sql.end();
    await Deno.remove(tokensFile);
  }
}

if (import.meta.main) {
  const { parseConfig } = await import("../src/platform/config.ts");
  console.log(await hotCoupon(parseConfig(Deno.env.toObject())));
}
