/**
 * Aggregate types and the topics they route to. The Outbox Event Router writes an outbox row to
 * `shop.<aggregatetype>` (see relay/connector.json `route.topic.replacement`); this module is the
 * TypeScript side of that rule and the list of topics created at start-up.
 */
import { dlqTopicFor } from "../platform/dead_letter.ts";

// The dead-letter naming is the consumer runtime's rule; offered here beside the topics it names.
export { dlqTopicFor };

export const TOPIC_PREFIX = "shop.";

/** Every aggregate type the system writes to the outbox; each one is a topic. */
export const AGGREGATE_TYPES = [
  "product",
  "coupon",
  "coupon-issue", // FCFS requests and their outcomes, keyed by coupon id
  "wallet",
  "order",
  "inventory",
  "coupon-redemption",
  "payment",
] as const;
export type AggregateType = (typeof AGGREGATE_TYPES)[number];

/** The topic an aggregate type routes to. */
export function topicFor(aggregateType: string): string {
  return `${TOPIC_PREFIX}${aggregateType}`;
}

/** Every topic the system needs: one per aggregate type, plus its dead-letter topic. */
export function systemTopics(): string[] {
  return AGGREGATE_TYPES.flatMap((t) => [topicFor(t), dlqTopicFor(topicFor(t))]);
}
