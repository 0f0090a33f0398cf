/**
 * The best-sellers read: units sold per product over a window of recent hours, from the
 * projection's hourly table, and how far the projection has applied the log (`asOf`). Run by the
 * API's route as the API's role, which may read these two tables and nothing else of the schema.
 */
import type { Sql, Tx } from "../platform/db.ts";

export interface SoldUnits {
  productId: string;
  unitsSold: number;
}

export interface BestSellersRead {
  items: SoldUnits[];
  /** The time of the newest event the projection has applied; null before the first. */
  asOf: Date | null;
}

/**
 * The `limit` products with the most units sold in the `hours` most recent hours of
 * confirmation, the current (partial) hour included: hours `h` with
 * `h >= date_trunc('hour', now()) - (hours - 1) hours`. Most first; ties by product id.
 */
export async function readBestSellers(
  sql: Sql | Tx,
  hours: number,
  limit: number,
): Promise<BestSellersRead> {
  const rows = await sql<{ product_id: string; units: string }[]>`
    select product_id, sum(units)::text as units from hourly_units
    where hour >= date_trunc('hour', now()) - make_interval(hours => ${hours - 1})
    group by product_id
    order by sum(units) desc, product_id
    limit ${limit}`;
  const [through] = await sql<{ as_of: Date | null }[]>`
    select max(event_at) as as_of from applied_through`;
  return {
    items: rows.map((r) => ({ productId: r.product_id, unitsSold: Number(r.units) })),
    asOf: through?.as_of ?? null,
  };
}
