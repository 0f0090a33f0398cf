/**
 * Order amounts from snapshotted prices and the coupon definition: a fixed amount or a percent
 * of the total rounded down, capped at the total; payment = total - discount.
 */
import type { Discount } from "../events/catalog.ts";

export interface Amounts {
  totalAmount: number;
  discountAmount: number;
  paymentAmount: number;
}

export function priceOrder(
  lines: { quantity: number; unitPrice: number }[],
  discount: Discount | undefined,
): Amounts {
  const totalAmount = lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0);
  const raw = !discount ? 0 : discount.type === "fixed"
    ? discount.amount
    // BigInt: total (up to 1e14) times percent may pass 2^53.
    : Number((BigInt(totalAmount) * BigInt(discount.percent)) / 100n);
  const discountAmount = Math.min(raw, totalAmount);
  return { totalAmount, discountAmount, paymentAmount: totalAmount - discountAmount };
}
