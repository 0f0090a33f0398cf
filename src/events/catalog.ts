/**
 * The event catalog: every event type with its aggregate (topic), key, version and zod payload
 * schema, shared by the producers (through `publish`) and the consumers (through `parseEvent`).
 * docs/events.md is generated from it (`deno task docs:events`).
 */
import { z } from "zod";
import type { Sql, Tx } from "../platform/db.ts";
import { appendEvents, type OutboxEvent } from "../platform/outbox.ts";
import type { AggregateType } from "./topics.ts";

const id = z.uuid();
const userId = z.string().min(1).max(64);
const money = z.number().int().min(0);

export const Discount = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("fixed"), amount: z.number().int().min(1).max(1_000_000_000) }),
  z.strictObject({ type: z.literal("percent"), percent: z.number().int().min(1).max(100) }),
]);
export type Discount = z.infer<typeof Discount>;

const OrderLine = z.object({
  productId: id,
  quantity: z.number().int().min(1),
  unitPrice: money,
});

interface EventSpec<S extends z.ZodType> {
  aggregate: AggregateType;
  version: number;
  /** The Kafka key: which field of the payload orders events of one aggregate. */
  key: (payload: z.infer<S>) => string;
  schema: S;
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
    description: "The issuer rejected the request (sold out or expired).",
    schema: z.object({
      requestId: id,
      couponId: id,
      userId,
      reason: z.enum(["SOLD_OUT", "EXPIRED"]),
    }),
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
    }),
  }),
} as const;

export type EventType = keyof typeof EVENTS;
export type PayloadOf<T extends EventType> = z.infer<(typeof EVENTS)[T]["schema"]>;

export interface Publishable<T extends EventType = EventType> {
  type: T;
  payload: PayloadOf<T>;
}

/**
 * Typed events as outbox rows: the catalog decides topic, key and version, and each payload is
 * validated against its schema first (a producer bug fails the write, not a consumer).
 */
export function toOutbox(events: Publishable[], traceparent?: string | null): OutboxEvent[] {
  return events.map(({ type, payload }) => {
    const spec = EVENTS[type] as EventSpec<z.ZodType>;
    const parsed = spec.schema.parse(payload);
    return {
      aggregateType: spec.aggregate,
      aggregateId: spec.key(parsed),
      type,
      version: spec.version,
      payload: parsed,
      traceparent,
    };
  });
}

/** Appends typed events to the outbox in `tx` (see `toOutbox`); returns their ids. */
export async function publish(
  tx: Tx | Sql,
  events: Publishable[],
  traceparent?: string | null,
): Promise<string[]> {
  return await appendEvents(tx, toOutbox(events, traceparent));
}
