/** Orders: placement (prices snapshotted, coupon discount) with OrderCreated, and reads. */
import { z } from "zod";
import { fromRow, type Sql, type Tx } from "../platform/db.ts";
import { uuidv7 } from "../platform/uuidv7.ts";
import { HttpProblem } from "../platform/http/problem.ts";
import { CancelReason } from "../events/catalog.ts";
import { publishQuery } from "../events/publish.ts";
import { currentPrices } from "../inventory/mod.ts";
import { heldCouponDiscount } from "../coupons/mod.ts";
import { priceOrder } from "./pricing.ts";

export const NewOrder = z.strictObject({
  items: z.array(z.strictObject({
    productId: z.uuid(),
    quantity: z.number().int().min(1).max(1000),
  })).min(1).max(100).refine(
    (items) => new Set(items.map((i) => i.productId.toLowerCase())).size === items.length,
    "products must be distinct",
  ),
  userCouponId: z.uuid().optional(),
}).meta({ id: "NewOrder" });
export type NewOrder = z.infer<typeof NewOrder>;

export const OrderStatus = z.enum(["PENDING", "CONFIRMED", "CANCELLED"]);

export const Order = z.object({
  orderId: z.uuid(),
  status: OrderStatus,
  items: z.array(z.object({
    productId: z.uuid(),
    quantity: z.number().int(),
    unitPrice: z.number().int(),
  })),
  totalAmount: z.number().int(),
  discountAmount: z.number().int(),
  paymentAmount: z.number().int(),
  cancelReason: CancelReason.optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).meta({ id: "Order" });
export type Order = z.infer<typeof Order>;

export const PlacedOrder = z.object({ orderId: z.uuid(), status: z.literal("PENDING") })
  .meta({ id: "PlacedOrder" });
export type PlacedOrder = z.infer<typeof PlacedOrder>;

/**
 * Places an order: snapshots prices, applies the user's coupon definition, and writes the order,
 * its lines and OrderCreated. Unknown products or a coupon the user does not own: 422. Whether
 * stock, coupon and balance suffice is the saga's question, not this one's.
 *
 * The write is one statement (a data-modifying CTE): one round trip, one implicit transaction.
 * The reads before it need no transaction with it: prices are a snapshot by definition, and a
 * user coupon never changes owner. Given a transaction (`tx`), everything runs inside it.
 *
 * The order's deadline (`deadlineMs` from now by the database's clock) is stored with it and
 * carried by OrderCreated: the saga cancels it with TIMEOUT if it is still PENDING then, and a
 * participant that meets the event after it skips its step. Both compare the one stored instant
 * with the database clock.
 */
export async function placeOrder(
  sql: Sql | Tx,
  userId: string,
  input: NewOrder,
  deadlineMs: number,
  trace?: string,
): Promise<PlacedOrder> {
  const ids = input.items.map((i) => i.productId.toLowerCase());
  const userCouponId = input.userCouponId?.toLowerCase() ?? null;
  // What the order needs of the other services is asked of their modules, never of their tables:
  // the prices (inventory) and the discount of the user's coupon (coupons).
  const [price, discount] = await Promise.all([
    currentPrices(sql, ids),
    userCouponId ? heldCouponDiscount(sql, userId, userCouponId) : Promise.resolve(undefined),
  ]);
  if (price.size !== ids.length) {
    const unknown = ids.filter((id) => !price.has(id));
    throw new HttpProblem(422, "Some products do not exist", {
      errors: unknown.map((id) => ({
        path: `body.items.${ids.indexOf(id)}.productId`,
        message: `unknown product ${id}`,
      })),
    });
  }
  if (userCouponId && !discount) {
    throw new HttpProblem(422, "You do not hold this coupon", {
      errors: [{ path: "body.userCouponId", message: "not a coupon of yours" }],
    });
  }
  const lines = input.items.map((i, n) => ({
    productId: ids[n],
    quantity: i.quantity,
    unitPrice: price.get(ids[n])!,
  }));
  const amounts = priceOrder(lines, discount);
  const orderId = uuidv7();
  // The deadline is the database's clock plus `deadlineMs`, taken in the insert itself: the
  // sweep and the participants compare it with that clock, so the API host's clock (skewed, or
  // a statement that waited) must not decide it. Milliseconds, so the stored instant and the
  // event's `deadlineAt` (ISO, UTC) are the same value.
  const deadline = sql`date_trunc('milliseconds', now() + make_interval(secs => ${
    deadlineMs / 1000
  }))`;
  const events = publishQuery(
    sql,
    [{
      type: "OrderCreated",
      payload: { orderId, userId, items: lines, userCouponId, ...amounts },
    }],
    trace,
    undefined,
    sql`(select jsonb_build_object('deadlineAt',
           to_char(deadline_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) from o)`,
  );
  await sql`
    with o as (
      insert into orders (id, user_id, user_coupon_id, total_amount, discount_amount,
                          payment_amount, deadline_at, traceparent)
      values (${orderId}, ${userId}, ${userCouponId}, ${amounts.totalAmount},
              ${amounts.discountAmount}, ${amounts.paymentAmount}, ${deadline}, ${trace ?? null})
      returning deadline_at
    ), items as (
      insert into order_items (order_id, position, product_id, quantity, unit_price)
      select ${orderId}, position, product_id, quantity, unit_price
      from unnest(${lines.map((l) => l.productId)}::uuid[], ${lines.map((l) => l.quantity)}::int[],
                  ${lines.map((l) => l.unitPrice)}::bigint[])
           with ordinality as l(product_id, quantity, unit_price, position)
    )
    ${events.query}`;
  return { orderId, status: "PENDING" };
}

/**
 * The channel an order's decision (PENDING to CONFIRMED or CANCELLED) is notified on, with the
 * order's id as payload: migrations/0013_decision_notify.sql's trigger.
 */
export const ORDER_DECIDED = "order_decided";

/** An order with its lines, only if it belongs to `userId`. */
export async function findOrder(sql: Sql, orderId: string, userId: string) {
  const [row] = await sql`
    select o.id as order_id, o.status,
           (select json_agg(json_build_object('productId', i.product_id, 'quantity', i.quantity,
                                              'unitPrice', i.unit_price) order by i.position)
            from order_items i where i.order_id = o.id) as items,
           o.total_amount, o.discount_amount, o.payment_amount, o.cancel_reason,
           o.created_at, o.updated_at
    from orders o where o.id = ${orderId} and o.user_id = ${userId}`;
  return row && fromRow<Order>(row);
}

/**
 * A page of the user's orders, newest first. Order ids are UUIDv7 (time-ordered), so the
 * cursor is simply the last id of the previous page.
 */
export async function listOrders(
  sql: Sql,
  userId: string,
  limit: number,
  after: string | undefined,
): Promise<{ items: Order[]; nextCursor: string | null }> {
  const rows = await sql`
    select o.id as order_id, o.status,
           (select json_agg(json_build_object('productId', i.product_id, 'quantity', i.quantity,
                                              'unitPrice', i.unit_price) order by i.position)
            from order_items i where i.order_id = o.id) as items,
           o.total_amount, o.discount_amount, o.payment_amount, o.cancel_reason,
           o.created_at, o.updated_at
    from orders o
    where o.user_id = ${userId} ${after ? sql`and o.id < ${after}` : sql``}
    order by o.id desc
    limit ${limit + 1}`;
  const page = rows.slice(0, limit).map((r) => fromRow<Order>(r));
  return { items: page, nextCursor: rows.length > limit ? page[page.length - 1].orderId : null };
}
