/**
 * The inventory service's public entry: what other modules may use. Its tables (products,
 * reservations) are in the `inventory` schema and nobody else's SQL names them.
 */
export { currentPrices, productNames } from "./store.ts";
export { productRoutes } from "./routes.ts";
export { inventory } from "./reservations.ts";
