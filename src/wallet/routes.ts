/**
 * Wallet routes under /wallet, every one behind a bearer token: charge (idempotent with
 * Idempotency-Key) and balance.
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { Sql } from "../platform/db.ts";
import { idempotencyKeyOf, withIdempotency } from "../platform/http/idempotency.ts";
import {
  json,
  jsonBody,
  problems,
  protectedRouter,
  requireJson,
  router,
} from "../platform/http/router.ts";
import type { TokenPolicy } from "../platform/http/auth.ts";
import { balanceOf, charge, DEFAULT_MAX_BALANCE, NewCharge, Wallet } from "./store.ts";

const security = [{ bearer: [] }];
const IdempotencyHeaders = z.object({
  "idempotency-key": z.string().optional().meta({
    description: "1-255 visible ASCII; a repeat with the same body replays the first response",
  }),
});

/** `maxBalance`: WALLET_MAX_BALANCE, the most a wallet may hold after a charge. */
export function walletRoutes(sql: Sql, tokens: TokenPolicy, maxBalance = DEFAULT_MAX_BALANCE) {
  const wallet = protectedRouter(tokens);

  wallet.openapi(
    createRoute({
      method: "post",
      path: "/charges",
      operationId: "chargeWallet",
      tags: ["wallet"],
      summary: "Charge my wallet",
      security,
      middleware: [requireJson()] as const,
      request: { body: jsonBody(NewCharge), headers: IdempotencyHeaders },
      responses: { 200: json(Wallet, "The new balance"), ...problems(400, 401, 413, 415, 422) },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const user = c.get("user");
      const result = await withIdempotency(
        sql,
        {
          userId: user.id,
          route: "POST /wallet/charges",
          key: idempotencyKeyOf(c.req.header("idempotency-key")),
          body: input,
        },
        async (tx) => ({
          status: 200,
          body: await charge(tx, user.id, input, maxBalance, c.get("traceparent")),
        }),
      );
      return c.json(result.body, 200);
    },
  );

  wallet.openapi(
    createRoute({
      method: "get",
      path: "/",
      operationId: "getWallet",
      tags: ["wallet"],
      summary: "My balance (0 for a new user)",
      security,
      responses: { 200: json(Wallet, "The balance"), ...problems(401) },
    }),
    async (c) => c.json(await balanceOf(sql, c.get("user").id), 200),
  );

  return router().route("/wallet", wallet);
}
