/**
 * docs/events.md, the event catalog generated from the zod schemas (topic, key, version,
 * consumers, payload); written by `deno task docs:events` (src/main/event_docs.ts). A test fails
 * if the committed page is stale.
 */
import { z } from "zod";
import { EVENTS } from "./catalog.ts";
import { dlqTopicFor, topicFor } from "./topics.ts";

/** A consumer group and the event types it applies (a worker's service). */
export interface Consumer {
  group: string;
  types: readonly string[];
}

const KEYS: Record<string, string> = {
  product: "productId",
  coupon: "couponId",
  "coupon-issue": "couponId",
  wallet: "userId",
  order: "orderId",
  inventory: "orderId",
  "coupon-redemption": "orderId",
  payment: "orderId",
};

function fields(schema: z.ZodType): string {
  const json = z.toJSONSchema(schema, { unrepresentable: "any" }) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, s]) => {
    const opt = json.required?.includes(name) ? "" : "?";
    return `\`${name}${opt}\`: ${describe(s)}`;
  }).join("<br>");
}

function describe(s: unknown): string {
  const j = s as Record<string, unknown>;
  if (j.anyOf) return (j.anyOf as unknown[]).map(describe).join(" \\| ");
  if (j.oneOf) return (j.oneOf as unknown[]).map(describe).join(" \\| ");
  if (j.enum) return (j.enum as unknown[]).map((v) => JSON.stringify(v)).join(" \\| ");
  if (j.const !== undefined) return JSON.stringify(j.const);
  if (j.type === "array") return `${describe(j.items)}[]`;
  if (j.type === "object") {
    const props = Object.keys((j.properties as object) ?? {});
    return `{${props.join(", ")}}`;
  }
  if (j.format) return `${j.type} (${j.format})`;
  return String(j.type ?? "any");
}

/** The page, as Markdown; `services` say who consumes what (the workers' registry). */
export function catalogMarkdown(services: Consumer[]): string {
  const consumers = (type: string) =>
    services.filter((s) => s.types.includes(type)).map((s) => s.group).join(", ") || "-";
  const rows = Object.entries(EVENTS).map(([type, spec]) =>
    `| \`${type}\` | v${spec.version} | \`${topicFor(spec.aggregate)}\` | ${
      KEYS[spec.aggregate]
    } | ${consumers(type)} | ${spec.description} | ${fields(spec.schema)} |`
  );
  const topics = [...new Set(Object.values(EVENTS).map((e) => topicFor(e.aggregate)))];
  return [
    "# Event catalog",
    "",
    "Generated from `src/events/catalog.ts` by `deno task docs:events`; do not edit by hand.",
    "",
    "Every event is an outbox row relayed by Debezium to `shop.<aggregate type>`: the Kafka key is",
    "the aggregate id, header `id` is the event id (UUIDv7, the consumers' idempotency key), headers",
    "`eventType`, `eventVersion` and `traceparent` carry the type, the schema version and the trace",
    "context, the record timestamp is the event's creation time, and the value is the JSON payload.",
    "A record a consumer cannot decode (missing headers, unknown type, another version, a payload",
    "that breaks the schema) goes to `<topic>.dlq`.",
    "",
    "| event | version | topic | key | consumed by | meaning | payload |",
    "|---|---|---|---|---|---|---|",
    ...rows,
    "",
    "## Topics",
    "",
    "| topic | dead letters |",
    "|---|---|",
    ...topics.map((t) => `| \`${t}\` | \`${dlqTopicFor(t)}\` |`),
    "",
  ].join("\n");
}
