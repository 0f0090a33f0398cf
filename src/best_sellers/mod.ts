/**
 * The best-sellers projection's public entry: what other modules may use. Its tables (pending
 * orders, hourly units, how far the log is applied) are in the `best_sellers` schema and nobody
 * else's SQL names them.
 */
export { BEST_SELLERS_GROUP, BEST_SELLERS_TOPIC, bestSellers } from "./projection.ts";
export { bestSellerRoutes } from "./routes.ts";
export { readBestSellers } from "./store.ts";
export { followReplay, GroupActiveError, rebuildBestSellers } from "./rebuild.ts";
