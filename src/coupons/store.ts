/** Coupons: definitions, FCFS issue requests and users' coupons; their SQL and events. */
import { z } from "zod";
import { fromRow, type Sql, type Tx } from "../platform/db.ts";
import { uuidv7 } from "../platform/uuidv7.ts";
import { Discount, RejectReason } from "../events/catalog.ts";
import { publish, publishQuery } from "../events/publish.ts";

export const NewCoupon = z.strictObject({
  name: z.string().trim().min(1).max(200),
  discount: Discount,
  totalQuantity: z.number().int().min(1).max(10_000_000),
  expiresAt: z.iso.datetime({ offset: true })
    .refine((s) => Date.parse(s) > Date.now(), "must be in the future")
    .optional(),
}).meta({ id: "NewCoupon" });
export type NewCoupon = z.infer<typeof NewCoupon>;

export const Coupon = z.object({
  id: z.uuid(),
  name: z.string(),
  discount: Discount,
  totalQuantity: z.number().int(),
  issuedQuantity: z.number().int(),
  expiresAt: z.string().nullable(),
}).meta({ id: "Coupon" });
export type Coupon = z.infer<typeof Coupon>;

export const CouponRequest = z.object({
  requestId: z.uuid(),
  couponId: z.uuid(),
  status: z.enum(["PENDING", "ISSUED", "REJECTED"]),
  reason: RejectReason.optional(),
  userCouponId: z.uuid().optional(),
}).meta({ id: "CouponRequest" });
export type CouponRequest = z.infer<typeof CouponRequest>;

export const UserCoupon = z.object({
  userCouponId: z.uuid(),
  couponId: z.uuid(),
  status: z.enum(["AVAILABLE", "USED"]),
  issuedAt: z.string(),
  usedAt: z.string().optional(),
  orderId: z.uuid().optional(),
}).meta({ id: "UserCoupon" });
export type UserCoupon = z.infer<typeof UserCoupon>;

/**
 * A coupon row's Discount, built by the query: `{type: "fixed", amount}` or
 * `{type: "percent", percent}` from its `discount_type` and `discount_value` columns.
 */
const discount = (sql: Sql | Tx) =>
  sql`json_build_object('type', discount_type,
                        case discount_type when 'fixed' then 'amount' else 'percent' end,
                        discount_value)`;

/** Inserts a coupon definition and its CouponCreated event in `tx`. */
export async function createCoupon(tx: Tx, input: NewCoupon, trace?: string): Promise<Coupon> {
  const id = uuidv7();
  const value = input.discount.type === "fixed" ? input.discount.amount : input.discount.percent;
  const expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
  const [row] = await tx`
    insert into coupons (id, name, discount_type, discount_value, total_quantity, expires_at)
    values (${id}, ${input.name}, ${input.discount.type}, ${value}, ${input.totalQuantity},
            ${expiresAt})
    returning id, name, ${discount(tx)} as discount, total_quantity, issued_quantity, expires_at`;
  const coupon = fromRow<Coupon>(row, ["expiresAt"]);
  await publish(tx, [{
    type: "CouponCreated",
    payload: {
      couponId: id,
      name: coupon.name,
      discount: coupon.discount,
      totalQuantity: coupon.totalQuantity,
      expiresAt: coupon.expiresAt,
    },
  }], trace);
  return coupon;
}

export async function findCoupon(sql: Sql, id: string): Promise<Coupon | undefined> {
  const [row] = await sql`
    select id, name, ${discount(sql)} as discount, total_quantity, issued_quantity, expires_at
    from coupons where id = ${id}`;
  return row && fromRow<Coupon>(row, ["expiresAt"]);
}

/**
 * Records a user's FCFS request with its CouponIssueRequested event (key: coupon id), once per
 * (coupon, user): the unique constraint decides, and a repeat gets the existing request.
 * Returns undefined when the coupon does not exist.
 *
 * The request row and its outbox row are one statement (a data-modifying CTE), so one round
 * trip and one implicit transaction: both or neither. This is the hottest write path. The row
 * keeps its event's id: the issuer's deadline sweep finds the request's record in the log by it.
 */
export async function requestIssue(
  sql: Sql | Tx,
  couponId: string,
  userId: string,
  trace?: string,
): Promise<{ request: CouponRequest; created: boolean } | undefined> {
  const id = uuidv7();
  const events = publishQuery(
    sql,
    [{ type: "CouponIssueRequested", payload: { requestId: id, couponId, userId } }],
    trace,
    sql`exists (select 1 from req)`,
  );
  // Inserts only if the coupon exists; a concurrent duplicate waits on the unique index and
  // then inserts nothing.
  const [{ created }] = await sql<{ created: boolean }[]>`
    with req as (
      insert into coupon_requests (id, coupon_id, user_id, event_id)
      select ${id}, c.id, ${userId}, ${events.ids[0]} from coupons c where c.id = ${couponId}
      on conflict (coupon_id, user_id) do nothing
      returning id
    ), events as (${events.query})
    select exists (select 1 from req) as created`;
  if (created) return { request: { requestId: id, couponId, status: "PENDING" }, created: true };
  // A new statement, so a snapshot that sees a duplicate committed while we waited on it.
  const [existing] = await sql`
    select id as request_id, coupon_id, status, reason, user_coupon_id from coupon_requests
    where coupon_id = ${couponId} and user_id = ${userId}`;
  return existing ? { request: fromRow<CouponRequest>(existing), created: false } : undefined;
}

/**
 * The channel a request's decision (PENDING to ISSUED or REJECTED) is notified on, with the
 * request's id as payload: migrations/0013_decision_notify.sql's trigger.
 */
export const COUPON_REQUEST_DECIDED = "coupon_request_decided";

/** A request, only if it belongs to `userId`. */
export async function findRequest(
  sql: Sql,
  requestId: string,
  userId: string,
): Promise<CouponRequest | undefined> {
  const [row] = await sql`
    select id as request_id, coupon_id, status, reason, user_coupon_id from coupon_requests
    where id = ${requestId} and user_id = ${userId}`;
  return row && fromRow<CouponRequest>(row);
}

/** The coupons a user holds, newest first. */
export async function listUserCoupons(sql: Sql, userId: string): Promise<UserCoupon[]> {
  const rows = await sql`
    select id as user_coupon_id, coupon_id, status, issued_at, used_at, order_id from user_coupons
    where user_id = ${userId} order by issued_at desc, id desc`;
  return rows.map((r) => fromRow<UserCoupon>(r));
}

/**
 * The discount of a coupon `userId` holds, for an order's snapshot; undefined if the user holds
 * no such coupon. Whether it is still usable is coupon-redeemer's decision, later, in the saga.
 * Called by the orders module at order time (in its transaction, as its role).
 */
export async function heldCouponDiscount(
  sql: Sql | Tx,
  userId: string,
  userCouponId: string,
): Promise<Discount | undefined> {
  const [c] = await sql<{ discount: Discount }[]>`
    select ${discount(sql)} as discount
    from user_coupons uc join coupons c on c.id = uc.coupon_id
    where uc.id = ${userCouponId} and uc.user_id = ${userId}`;
  return c?.discount;
}
