/**
 * The whole system for an end-to-end test: the API in-process over the real database, the five
 * real worker processes, and helpers to wait for outcomes. The relay (Debezium) and Kafka are the
 * stack's. Against a stack whose workers or API already run (E2E_WORKERS=external,
 * E2E_API_URL; see e2e_env.ts) it starts no workers and calls that API over HTTP.
 */
import { adminToken, api, httpApi, newUser } from "./api.ts";
import { EXTERNAL_API_URL, EXTERNAL_WORKERS } from "./e2e_env.ts";
import { db } from "./stack.ts";
import { Workers } from "./workers.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import type { Sql } from "../../src/platform/db.ts";

export interface System {
  sql: Sql;
  call: ReturnType<typeof api>["call"];
  workers: Workers;
  admin: string;
  /** Products, coupons and users this test made: the scope of its invariants. */
  scope: { productIds: string[]; couponIds: string[]; userIds: string[] };
  product(price: number, stock: number): Promise<string>;
  coupon(body: Record<string, unknown>): Promise<string>;
  user(balance?: number): Promise<{ id: string; token: string }>;
  /** Polls GET /orders/:id until the order is terminal; returns it. */
  settledOrder(
    token: string,
    orderId: string,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Requests `couponId` for `user` and waits until the request is ISSUED; returns the user coupon id. */
  grantCoupon(couponId: string, user: { token: string }): Promise<string>;
  close(): Promise<void>;
}

export async function system(
  opts: {
    workers?: boolean;
    pool?: number;
    workerEnv?: Record<string, string>;
    /** ORDER_DEADLINE_MS of the in-process API. @default 30000 */
    orderDeadlineMs?: number;
  } = {},
): Promise<System> {
  const sql = db(opts.pool ?? 20);
  const { call } = EXTERNAL_API_URL
    ? httpApi(EXTERNAL_API_URL)
    : api({ orderDeadlineMs: opts.orderDeadlineMs });
  const workers = new Workers(opts.workerEnv);
  if ((opts.workers ?? true) && !EXTERNAL_WORKERS) await workers.start();
  const admin = adminToken();
  const scope = { productIds: [] as string[], couponIds: [] as string[], userIds: [] as string[] };
  const created = async (path: string, body: unknown) => {
    const r = await call("POST", path, { token: admin, body });
    if (r.status !== 201) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.id as string;
  };
  const sys: System = {
    sql,
    call,
    workers,
    admin,
    scope,
    async product(price, stock) {
      const id = await created("/products", { name: `p-${price}-${stock}`, price, stock });
      scope.productIds.push(id);
      return id;
    },
    async coupon(body) {
      const id = await created("/coupons", body);
      scope.couponIds.push(id);
      return id;
    },
    async user(balance = 0) {
      const u = newUser();
      scope.userIds.push(u.id);
      if (balance > 0) {
        const r = await call("POST", "/wallet/charges", {
          token: u.token,
          body: { amount: balance },
        });
        if (r.status !== 200) throw new Error(`charge: ${r.status}`);
      }
      return u;
    },
    async settledOrder(token, orderId, timeoutMs = 60_000) {
      return await waitFor(async () => {
        const r = await call("GET", `/orders/${orderId}`, { token });
        return r.body.status !== "PENDING" ? r.body : undefined;
      }, { timeoutMs, intervalMs: 50, what: `order ${orderId} to settle` });
    },
    async grantCoupon(couponId, user) {
      const r = await call("POST", `/coupons/${couponId}/issue-requests`, { token: user.token });
      const requestId = r.body.requestId;
      return await waitFor(async () => {
        const s = await call("GET", `/coupon-requests/${requestId}`, { token: user.token });
        if (s.body.status === "REJECTED") throw new Error(`request rejected: ${s.body.reason}`);
        return s.body.status === "ISSUED" ? s.body.userCouponId as string : undefined;
      }, { timeoutMs: 60_000, intervalMs: 50, what: "the coupon to be issued" });
    },
    async close() {
      await workers.stopAll();
      await sql.end();
    },
  };
  return sys;
}
