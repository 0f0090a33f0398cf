/**
 * The wallet service's public entry: what other modules may use. Its tables (wallets, charges,
 * payments) are in the `wallet` schema and nobody else's SQL names them.
 */
export { walletRoutes } from "./routes.ts";
export { payment } from "./payment.ts";
