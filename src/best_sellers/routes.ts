/**
 * GET /products/best-sellers, behind a bearer token: the projection's answer with the products'
 * names, asked of inventory's module at read time (the projection keeps no copy of the catalog).
 * Mount it before the product routes: `/products/{id}` would take `best-sellers` for an id.
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { Sql } from "../platform/db.ts";
import { HttpProblem } from "../platform/http/problem.ts";
import { json, problems, protectedRouter, router } from "../platform/http/router.ts";
import type { TokenPolicy } from "../platform/http/auth.ts";
import { productNames } from "../inventory/mod.ts";
import { readBestSellers } from "./store.ts";

const security = [{ bearer: [] }];

export const BestSellersQuery = z.strictObject({
  hours: z.coerce.number().int().min(1).default(72).meta({
    description: "The window: this many most recent hours of confirmation, the current one " +
      "included; at most the topics' retention (TOPIC_RETENTION_HOURS, 168 by default), 422 above",
  }),
  limit: z.coerce.number().int().min(1).max(100).default(10),
});

export const BestSellers = z.object({
  items: z.array(z.object({
    productId: z.uuid(),
    // Inventory never deletes a product; null only if it did not know the id.
    name: z.string().nullable(),
    unitsSold: z.number().int(),
  })),
  asOf: z.iso.datetime().nullable().meta({
    description: "The time of the newest event the projection has applied (it may lag); null " +
      "before it has applied any",
  }),
}).meta({ id: "BestSellers" });

/** `retentionHours`: TOPIC_RETENTION_HOURS, the longest window the log can answer. */
export function bestSellerRoutes(sql: Sql, tokens: TokenPolicy, retentionHours: number) {
  const products = protectedRouter(tokens);

  products.openapi(
    createRoute({
      method: "get",
      path: "/best-sellers",
      operationId: "getBestSellers",
      tags: ["products"],
      summary: "Units sold in CONFIRMED orders over recent hours, most first",
      description: "A read model fed by the order events: it may lag, and `asOf` says how far " +
        "it has applied the log.",
      security,
      request: { query: BestSellersQuery },
      responses: { 200: json(BestSellers, "The best sellers"), ...problems(400, 401, 422) },
    }),
    async (c) => {
      const { hours, limit } = c.req.valid("query");
      if (hours > retentionHours) {
        throw new HttpProblem(
          422,
          `Cannot answer for hours=${hours}: the log keeps ${retentionHours} hours of events`,
          { maxHours: retentionHours },
        );
      }
      const read = await readBestSellers(sql, hours, limit);
      const names = await productNames(sql, read.items.map((i) => i.productId));
      return c.json({
        items: read.items.map((i) => ({ ...i, name: names.get(i.productId) ?? null })),
        asOf: read.asOf?.toISOString() ?? null,
      }, 200);
    },
  );

  return router().route("/products", products);
}
