/**
 * The orders service's public entry: what other modules may use. Its tables (orders, lines, saga
 * steps) are in the `orders` schema and nobody else's SQL names them.
 */
export { orderRoutes } from "./routes.ts";
export { ORDER_DECIDED } from "./store.ts";
export { registerOrderMetrics } from "./metrics.ts";
export { orderSaga } from "./saga.ts";
