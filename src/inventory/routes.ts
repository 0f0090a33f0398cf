/** Product routes under /products, every one behind a bearer token: create (admin), read. */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { Sql } from "../platform/db.ts";
import { requireAdmin } from "../platform/http/auth.ts";
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
import { createProduct, findProduct, NewProduct, Product } from "./store.ts";

const security = [{ bearer: [] }];

export function productRoutes(sql: Sql, tokens: TokenPolicy) {
  const products = protectedRouter(tokens);

  products.openapi(
    createRoute({
      method: "post",
      path: "/",
      operationId: "createProduct",
      tags: ["products"],
      summary: "Create a product (admin)",
      security,
      middleware: [requireAdmin(), requireJson()] as const,
      request: { body: jsonBody(NewProduct) },
      responses: { 201: json(Product, "Created"), ...problems(400, 401, 403, 413, 415) },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const product = await sql.begin((tx) => createProduct(tx, input, c.get("traceparent")));
      return c.json(product, 201, { location: `/products/${product.id}` });
    },
  );

  products.openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      operationId: "getProduct",
      tags: ["products"],
      summary: "A product with its current stock",
      security,
      request: { params: z.object({ id: z.string() }) },
      responses: { 200: json(Product, "The product"), ...problems(401, 404) },
    }),
    async (c) => {
      const product = await findProduct(sql, pathId(c.req.valid("param").id, "Product"));
      if (!product) throw new HttpProblem(404, "Product not found");
      return c.json(product, 200);
    },
  );

  return router().route("/products", products);
}
