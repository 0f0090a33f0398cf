/**
 * The coupons service's public entry: what other modules may use. Its tables (definitions, FCFS
 * requests, user coupons, redemptions) are in the `coupons` schema and nobody else's SQL names
 * them.
 */
export { heldCouponDiscount } from "./store.ts";
export { couponRoutes } from "./routes.ts";
export { COUPON_REQUEST_DECIDED } from "./store.ts";
export { registerCouponMetrics } from "./metrics.ts";
export { couponIssuer } from "./issuer.ts";
export { couponRedeemer } from "./redeemer.ts";
