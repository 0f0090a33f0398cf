/**
 * Order routes under /orders, every one behind a bearer token: place (202, idempotent with
 * Idempotency-Key), read one, list mine.
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { Sql } from "../platform/db.ts";
import { idempotencyKeyOf, withIdempotency } from "../platform/http/idempotency.ts";
import { HttpProblem } from "../platform/http/problem.ts";
import {
  json,
  jsonBody,
  pathId,
  problems,
  protectedRouter,
  requireJson,
  router,
} from "../platform/http/router.ts";
import type { TokenPolicy } from "../platform/http/auth.ts";
import type { Notifications } from "../platform/notifications.ts";
import {
  preferenceAppliedHeader,
  PreferHeaders,
  readWithPreferredWait,
} from "../platform/http/prefer_wait.ts";
import {
  findOrder,
  listOrders,
  NewOrder,
  Order,
  ORDER_DECIDED,
  PlacedOrder,
  placeOrder,
} from "./store.ts";

const security = [{ bearer: [] }];

const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.uuid().optional(),
});

/**
 * `deadlineMs`: ORDER_DEADLINE_MS, how long a new order may stay PENDING. `notifications`: the
 * process's listener for decisions; without it `Prefer: wait` is not honoured (answered at once).
 */
export function orderRoutes(
  sql: Sql,
  tokens: TokenPolicy,
  deadlineMs: number,
  notifications?: Notifications,
) {
  const orders = protectedRouter(tokens);

  orders.openapi(
    createRoute({
      method: "post",
      path: "/",
      operationId: "placeOrder",
      tags: ["orders"],
      summary: "Place an order; the saga confirms or cancels it asynchronously",
      security,
      middleware: [requireJson()] as const,
      request: {
        body: jsonBody(NewOrder),
        headers: z.object({ "idempotency-key": z.string().optional() }),
      },
      responses: {
        202: json(PlacedOrder, "Accepted, PENDING; GET the Location with `Prefer: wait=N`"),
        ...problems(400, 401, 413, 415, 422),
      },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const user = c.get("user");
      const key = idempotencyKeyOf(c.req.header("idempotency-key"));
      const trace = c.get("traceparent");
      // Without a key, placeOrder's single write statement is the transaction.
      const placed = key === undefined
        ? await placeOrder(sql, user.id, input, deadlineMs, trace)
        : (await withIdempotency(
          sql,
          { userId: user.id, route: "POST /orders", key, body: input },
          async (tx) => ({
            status: 202,
            body: await placeOrder(tx, user.id, input, deadlineMs, trace),
          }),
        )).body;
      return c.json(placed, 202, { location: `/orders/${placed.orderId}` });
    },
  );

  orders.openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      operationId: "getOrder",
      tags: ["orders"],
      summary: "One of my orders",
      description: "With `Prefer: wait=N`, answers as soon as the order is CONFIRMED or " +
        "CANCELLED, or after N seconds (at most 30) while it is still PENDING.",
      security,
      request: { params: z.object({ id: z.string() }), headers: PreferHeaders },
      responses: {
        200: { ...json(Order, "The order"), headers: preferenceAppliedHeader },
        ...problems(401, 404),
      },
    }),
    async (c) => {
      const id = pathId(c.req.valid("param").id, "Order");
      const userId = c.get("user").id;
      const { row: order, headers } = await readWithPreferredWait(c, {
        notifications,
        channel: ORDER_DECIDED,
        id,
        read: () => findOrder(sql, id, userId),
        isPending: (o) => o.status === "PENDING",
      });
      if (!order) throw new HttpProblem(404, "Order not found");
      return c.json(order, 200, headers);
    },
  );

  orders.openapi(
    createRoute({
      method: "get",
      path: "/",
      operationId: "listOrders",
      tags: ["orders"],
      summary: "My orders, newest first",
      security,
      request: { query: ListQuery },
      responses: {
        200: json(
          z.object({ items: z.array(Order), nextCursor: z.uuid().nullable() }),
          "A page of orders",
        ),
        ...problems(400, 401),
      },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      return c.json(await listOrders(sql, c.get("user").id, limit, cursor?.toLowerCase()), 200);
    },
  );

  return router().route("/orders", orders);
}
