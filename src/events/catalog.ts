/**
 * The event catalog: every event type with its aggregate (topic), key, version and zod payload
 * schema, shared by the producers (through `publish`, ./publish.ts) and the consumers (services
 * defined with `defineService(EVENTS, ...)`, which decode against it and hand each handler its
 * type's payload). docs/events.md is generated from it (`deno task docs:events`).
 */
import { z } from "zod";
import type * as platform from "../platform/event_catalog.ts";
import type { EventOf } from "../platform/decode_record.ts";
import type { AggregateType } from "./topics.ts";

const id = z.uuid();
const userId = z.string().min(1).max(64);
const money = z.number().int().min(0);

export const Discount = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("fixed"), amount: z.number().int().min(1).max(1_000_000_000) }),
  z.strictObject({ type: z.literal("percent"), percent: z.number().int().min(1).max(100) }),
]);
export type Discount = z.infer<typeof Discount>;

/** Why a saga step failed; the first one becomes the order's cancelReason. */
export const FailureReason = z.enum(["OUT_OF_STOCK", "COUPON_UNAVAILABLE", "INSUFFICIENT_BALANCE"]);
export type FailureReason = z.infer<typeof FailureReason>;

/** Why an order was cancelled: a step's failure, or its deadline passed first. */
export const CancelReason = z.enum([...FailureReason.options, "TIMEOUT"]);
export type CancelReason = z.infer<typeof CancelReason>;

/** Why an FCFS request was rejected. */
export const RejectReason = z.enum(["SOLD_OUT", "EXPIRED", "TIMEOUT"]);
export type RejectReason = z.infer<typeof RejectReason>;

const OrderLine = z.object({
  productId: id,
  quantity: z.number().int().min(1),
  unitPrice: money,
});

interface EventSpec<S extends z.ZodType> extends platform.EventSpec<S> {
  aggregate: AggregateType;
  /** What happened, for docs/events.md. */
  description: string;
}

function event<S extends z.ZodType>(spec: EventSpec<S>): EventSpec<S> {
  return spec;
}

export const EVENTS = {
  ProductCreated: event({
    aggregate: "product",
    version: 1,
    key: (p) => p.productId,
    description: "An administrator created a product.",
    schema: z.object({ productId: id, name: z.string(), price: money, stock: z.number().int() }),
  }),
  CouponCreated: event({
    aggregate: "coupon",
    version: 1,
    key: (p) => p.couponId,
    description: "An administrator created a coupon.",
    schema: z.object({
      couponId: id,
      name: z.string(),
      discount: Discount,
      totalQuantity: z.number().int().min(1),
      expiresAt: z.iso.datetime({ offset: true }).nullable(),
    }),
  }),
  CouponIssueRequested: event({
    aggregate: "coupon-issue",
    version: 1,
    key: (p) => p.couponId,
    description:
      "A user asked for an FCFS coupon; keyed by coupon so one coupon is served in order.",
    schema: z.object({ requestId: id, couponId: id, userId }),
  }),
  CouponIssued: event({
    aggregate: "coupon-issue",
    version: 1,
    key: (p) => p.couponId,
    description: "The issuer granted the request.",
    schema: z.object({ requestId: id, couponId: id, userId, userCouponId: id }),
  }),
  CouponIssueRejected: event({
    aggregate: "coupon-issue",
    version: 1,
    key: (p) => p.couponId,
    description:
      "The issuer rejected the request (sold out, expired, or passed over past its deadline).",
    schema: z.object({ requestId: id, couponId: id, userId, reason: RejectReason }),
  }),
  WalletCharged: event({
    aggregate: "wallet",
    version: 1,
    key: (p) => p.userId,
    description: "A user charged their wallet.",
    schema: z.object({ chargeId: id, userId, amount: money, balance: money }),
  }),
  OrderCreated: event({
    aggregate: "order",
    version: 1,
    key: (p) => p.orderId,
    description: "A user placed an order; starts the saga (inventory, coupon, payment).",
    schema: z.object({
      orderId: id,
      userId,
      items: z.array(OrderLine).min(1),
      userCouponId: id.nullable(),
      totalAmount: money,
      discountAmount: money,
      paymentAmount: money,
      // When the saga gives up on the order; a participant that sees it passed skips its step.
      // Optional: events written before deadlines existed have none.
      deadlineAt: z.iso.datetime({ offset: true }).optional(),
    }),
  }),
  OrderConfirmed: event({
    aggregate: "order",
    version: 1,
    key: (p) => p.orderId,
    description: "Every required step succeeded; the saga confirmed the order.",
    schema: z.object({ orderId: id, userId }),
  }),
  OrderCancelled: event({
    aggregate: "order",
    version: 1,
    key: (p) => p.orderId,
    description:
      "A step failed or the deadline passed; participants undo their step (or never do it).",
    schema: z.object({
      orderId: id,
      userId,
      // The user coupon the order used, so coupon-redeemer knows without reading orders. Absent
      // in events written before it was carried: the redeemer then assumes there may be one.
      userCouponId: id.nullable().optional(),
      reason: CancelReason,
    }),
  }),
  InventoryReserved: event({
    aggregate: "inventory",
    version: 1,
    key: (p) => p.orderId,
    description: "Every line of the order is reserved (stock decremented).",
    schema: z.object({ orderId: id }),
  }),
  InventoryRejected: event({
    aggregate: "inventory",
    version: 1,
    key: (p) => p.orderId,
    description: "Some line lacks stock; nothing is reserved.",
    schema: z.object({ orderId: id, reason: z.literal("OUT_OF_STOCK") }),
  }),
  InventoryReleased: event({
    aggregate: "inventory",
    version: 1,
    key: (p) => p.orderId,
    description: "The reservation of a cancelled order went back to stock.",
    schema: z.object({ orderId: id }),
  }),
  CouponRedeemed: event({
    aggregate: "coupon-redemption",
    version: 1,
    key: (p) => p.orderId,
    description: "The order's user coupon is now USED by it.",
    schema: z.object({ orderId: id, userCouponId: id }),
  }),
  CouponRedemptionRejected: event({
    aggregate: "coupon-redemption",
    version: 1,
    key: (p) => p.orderId,
    description: "The user coupon is not the user's, not AVAILABLE, or expired.",
    schema: z.object({ orderId: id, userCouponId: id, reason: z.literal("COUPON_UNAVAILABLE") }),
  }),
  CouponRestored: event({
    aggregate: "coupon-redemption",
    version: 1,
    key: (p) => p.orderId,
    description: "The coupon used by a cancelled order is AVAILABLE again.",
    schema: z.object({ orderId: id, userCouponId: id }),
  }),
  PaymentCompleted: event({
    aggregate: "payment",
    version: 1,
    key: (p) => p.orderId,
    description: "The payment amount was debited from the wallet.",
    schema: z.object({ orderId: id, userId, amount: money }),
  }),
  PaymentFailed: event({
    aggregate: "payment",
    version: 1,
    key: (p) => p.orderId,
    description: "The wallet balance was short; nothing was debited.",
    schema: z.object({ orderId: id, userId, reason: z.literal("INSUFFICIENT_BALANCE") }),
  }),
  PaymentRefunded: event({
    aggregate: "payment",
    version: 1,
    key: (p) => p.orderId,
    description: "The debit of a cancelled order went back to the wallet.",
    schema: z.object({ orderId: id, userId, amount: money }),
  }),
} as const;

export type EventType = platform.TypeOf<typeof EVENTS>;
export type PayloadOf<T extends EventType> = platform.PayloadOf<typeof EVENTS, T>;

/**
 * A consumed event of type `T` (or of one of the union `T`), as a handler receives it: checking
 * `event.type` narrows `event.payload`.
 */
export type Event<T extends EventType = EventType> = EventOf<typeof EVENTS, T>;
