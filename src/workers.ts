/**
 * The consumer services the workers run, by worker name, and their default ops ports: the
 * registry `deno task worker <name>`, `deno task dev`, the ops console and the stack's status
 * read. Each service comes from its module's public entry.
 */
import type { Service } from "./platform/service.ts";
import { couponIssuer, couponRedeemer } from "./coupons/mod.ts";
import { inventory } from "./inventory/mod.ts";
import { payment } from "./wallet/mod.ts";
import { orderSaga } from "./orders/mod.ts";
import { bestSellers } from "./best_sellers/mod.ts";

export const SERVICES: Record<string, Service> = {
  "coupon-issuer": couponIssuer,
  inventory,
  "coupon-redeemer": couponRedeemer,
  payment,
  "order-saga": orderSaga,
  "best-sellers": bestSellers,
};
export const WORKERS = Object.keys(SERVICES);

/** Default ops ports (health, metrics), one per service so all six fit on one machine. */
export const WORKER_PORTS: Record<string, number> = {
  "coupon-issuer": 9101,
  inventory: 9102,
  "coupon-redeemer": 9103,
  payment: 9104,
  "order-saga": 9105,
  "best-sellers": 9106,
};
