/** The inventory's catalog: products (price, stock), their SQL and the ProductCreated event. */
import { z } from "zod";
import type { Sql, Tx } from "../platform/db.ts";
import { uuidv7 } from "../platform/uuidv7.ts";
import { publish } from "../events/publish.ts";

export const NewProduct = z.strictObject({
  name: z.string().trim().min(1).max(200),
  price: z.number().int().min(0).max(1_000_000_000),
  stock: z.number().int().min(0).max(1_000_000_000),
}).meta({ id: "NewProduct" });
export type NewProduct = z.infer<typeof NewProduct>;

export const Product = z.object({
  id: z.uuid(),
  name: z.string(),
  price: z.number().int(),
  stock: z.number().int(),
}).meta({ id: "Product" });
export type Product = z.infer<typeof Product>;

/** Inserts a product and its ProductCreated event in `tx`. */
export async function createProduct(tx: Tx, input: NewProduct, trace?: string): Promise<Product> {
  const product = { id: uuidv7(), ...input };
  await tx`
    insert into products (id, name, price, stock, initial_stock)
    values (${product.id}, ${product.name}, ${product.price}, ${product.stock}, ${product.stock})`;
  await publish(tx, [{
    type: "ProductCreated",
    payload: {
      productId: product.id,
      name: product.name,
      price: product.price,
      stock: product.stock,
    },
  }], trace);
  return product;
}

export async function findProduct(sql: Sql, id: string): Promise<Product | undefined> {
  const [row] = await sql<Product[]>`
    select id, name, price, stock from products where id = ${id}`;
  return row;
}

/**
 * The current price of each of `ids` that exists, for an order's snapshot; missing ids are
 * unknown products. Called by the orders module at order time (in its transaction, as its role).
 */
export async function currentPrices(sql: Sql | Tx, ids: string[]): Promise<Map<string, number>> {
  const rows = await sql<{ id: string; price: number }[]>`
    select id, price from products where id = any(${ids}::uuid[])`;
  return new Map(rows.map((r) => [r.id, r.price]));
}

/**
 * The name of each of `ids` that exists. Called by the best-sellers route at read time (as the
 * API's role), so a projection keeps no copy of the catalog.
 */
export async function productNames(sql: Sql | Tx, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await sql<{ id: string; name: string }[]>`
    select id, name from products where id = any(${ids}::uuid[])`;
  return new Map(rows.map((r) => [r.id, r.name]));
}
