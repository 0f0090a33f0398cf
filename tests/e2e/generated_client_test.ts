/**
 * A typed client generated from the served /openapi.json (openapi-typescript's Node API) drives
 * the quick-start flow through openapi-fetch against the real API process and workers: admin
 * creates a product and a coupon, a user charges the wallet, requests the coupon, waits for the
 * outcome (`Prefer: wait`, a typed header of the client) and orders with it. The driver is
 * type-checked against the generated types first, so a document that drifts from what clients
 * send (a renamed field, a missing operation, the `Prefer` header) fails.
 */
import assert from "node:assert/strict";
import openapiTS, { astToString } from "openapi-typescript";
import { adminToken, newUser } from "../helpers/api.ts";
import { real } from "../helpers/stack.ts";
import { startApiProcess } from "../helpers/api_process.ts";
import { Workers } from "../helpers/workers.ts";
import { EXTERNAL_API_URL, EXTERNAL_WORKERS } from "../helpers/e2e_env.ts";
import { assertInvariants } from "../helpers/invariants.ts";
import { db } from "../helpers/stack.ts";

const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

// The driver: only generated types and openapi-fetch; polls with a deadline, never sleeps blind.
const DRIVER = `
import createClient from "openapi-fetch";
import type { paths } from "./shop_api.d.ts";

const base = Deno.env.get("API_URL")!;
const as = (token: string) =>
  createClient<paths>({ baseUrl: base, headers: { authorization: \`Bearer \${token}\` } });
const admin = as(Deno.env.get("ADMIN_TOKEN")!);
const user = as(Deno.env.get("USER_TOKEN")!);

async function poll<T>(what: string, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(\`timed out waiting for \${what}\`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const product = await admin.POST("/products", { body: { name: "quick start", price: 5000, stock: 3 } });
if (!product.data) throw new Error(\`product: \${JSON.stringify(product.error)}\`);
const coupon = await admin.POST("/coupons", {
  body: { name: "10% off", discount: { type: "percent", percent: 10 }, totalQuantity: 100 },
});
if (!coupon.data) throw new Error(\`coupon: \${JSON.stringify(coupon.error)}\`);
const charged = await user.POST("/wallet/charges", { body: { amount: 10000 } });
if (!charged.data) throw new Error(\`charge: \${JSON.stringify(charged.error)}\`);
const asked = await user.POST("/coupons/{id}/issue-requests", {
  params: { path: { id: coupon.data.id } },
});
if (!asked.data) throw new Error(\`issue request: \${JSON.stringify(asked.error)}\`);
const requestId = asked.data.requestId;
// Prefer: wait (a typed header of the generated client): each GET answers once decided.
const applied: (string | null)[] = [];
const issued = await poll("the coupon request to be decided", async () => {
  const r = await user.GET("/coupon-requests/{id}", {
    params: { path: { id: requestId }, header: { prefer: "wait=10" } },
  });
  applied.push(r.response.headers.get("preference-applied"));
  return r.data && r.data.status !== "PENDING" ? r.data : undefined;
});
if (issued.status !== "ISSUED" || !issued.userCouponId) throw new Error(\`not issued: \${issued.status}\`);
const placed = await user.POST("/orders", {
  body: { items: [{ productId: product.data.id, quantity: 1 }], userCouponId: issued.userCouponId },
});
if (!placed.data) throw new Error(\`order: \${JSON.stringify(placed.error)}\`);
const orderId = placed.data.orderId;
const order = await poll("the order to settle", async () => {
  const r = await user.GET("/orders/{id}", {
    params: { path: { id: orderId }, header: { prefer: "wait=10" } },
  });
  applied.push(r.response.headers.get("preference-applied"));
  return r.data && r.data.status !== "PENDING" ? r.data : undefined;
});
console.log(JSON.stringify({
  productId: product.data.id,
  couponId: coupon.data.id,
  requestStatus: issued.status,
  applied: [...new Set(applied)],
  order: { id: order.orderId, status: order.status, discount: order.discountAmount, paid: order.paymentAmount },
}));
`;

async function deno(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    env,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { ok: out.success, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("generated client: the quick-start flow through openapi-fetch", real, async () => {
  const workers = new Workers();
  if (!EXTERNAL_WORKERS) await workers.start();
  // An API that already runs (E2E_API_URL), or one of the test's own.
  const api = EXTERNAL_API_URL
    ? { url: EXTERNAL_API_URL, stop: () => Promise.resolve() }
    : await startApiProcess();
  const dir = await Deno.makeTempDir({ prefix: "shop-client-" });
  const sql = db(2);
  try {
    const ast = await openapiTS(new URL(`${api.url}/openapi.json`));
    const types = astToString(ast);
    assert.match(types, /placeOrder: \{/, "operations are named by their operationId");
    await Deno.writeTextFile(`${dir}/shop_api.d.ts`, types);
    await Deno.writeTextFile(`${dir}/quick_start.ts`, DRIVER);

    const checked = await deno(["check", "--config", CONFIG, `${dir}/quick_start.ts`]);
    assert.ok(
      checked.ok,
      `the driver type-checks against the generated client:\n${checked.stderr}`,
    );

    const user = newUser("client");
    const run = await deno(["run", "-A", "--config", CONFIG, `${dir}/quick_start.ts`], {
      API_URL: api.url,
      ADMIN_TOKEN: adminToken(),
      USER_TOKEN: user.token,
    });
    assert.ok(run.ok, `the driver ran:\n${run.stderr}`);
    const result = JSON.parse(run.stdout.trim().split("\n").pop()!);
    assert.equal(result.requestStatus, "ISSUED");
    assert.deepEqual(result.applied, ["wait=10"], "every GET honoured Prefer: wait");
    assert.deepEqual(result.order, {
      id: result.order.id,
      status: "CONFIRMED",
      discount: 500,
      paid: 4500,
    });
    const [uc] = await sql`select status, order_id from user_coupons where user_id = ${user.id}`;
    assert.deepEqual([uc.status, uc.order_id], ["USED", result.order.id]);
    await assertInvariants(sql, {
      productIds: [result.productId],
      couponIds: [result.couponId],
      userIds: [user.id],
    });
  } finally {
    await sql.end();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await api.stop();
    await workers.stopAll();
  }
});
