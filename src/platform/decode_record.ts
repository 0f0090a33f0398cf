/**
 * Turns a Kafka record from the relay into a typed event, or says why it is poison. Pure, so the
 * rules are unit-tested: header `id` a UUID, header `eventType` a catalog type, header
 * `eventVersion` the catalog's version, and the value a JSON payload valid for that schema.
 */
import type { KafkaMessage } from "./kafka.ts";
import type { z } from "zod";
import { EVENTS } from "../events/catalog.ts";

export interface DecodedEvent {
  id: string;
  type: string;
  version: number;
  key: string;
  payload: unknown;
  traceparent?: string;
  topic: string;
  partition: number;
  offset: string;
  /** Record timestamp: the event's creation time (see the relay config). */
  timestamp: number;
}

export type Decoded =
  | { kind: "event"; event: DecodedEvent }
  | { kind: "skip"; type: string }
  | { kind: "poison"; reason: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function header(message: KafkaMessage, name: string): string | undefined {
  const v = message.headers?.[name];
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v[0] : v)?.toString();
}

/** Decodes `message`; types without a handler in `handled` are skipped, not poison. */
export function decodeRecord(
  topic: string,
  partition: number,
  message: KafkaMessage,
  handled: Record<string, unknown>,
): Decoded {
  const id = header(message, "id");
  const type = header(message, "eventType");
  if (!id || !UUID.test(id)) {
    return { kind: "poison", reason: "header 'id' is missing or not a UUID" };
  }
  if (!type) return { kind: "poison", reason: "header 'eventType' is missing" };
  const spec = (EVENTS as Record<string, { version: number; schema: z.ZodType }>)[type];
  if (!spec) return { kind: "poison", reason: `unknown event type '${type}'` };
  if (!(type in handled)) return { kind: "skip", type };
  const version = Number(header(message, "eventVersion") ?? NaN);
  if (version !== spec.version) {
    return {
      kind: "poison",
      reason: `unsupported version ${
        header(message, "eventVersion")
      } of ${type} (expected ${spec.version})`,
    };
  }
  let payload: unknown;
  try {
    payload = JSON.parse(message.value?.toString() ?? "");
  } catch {
    return { kind: "poison", reason: "the value is not JSON" };
  }
  const parsed = spec.schema.safeParse(payload);
  if (!parsed.success) {
    return {
      kind: "poison",
      reason: `payload does not match ${type} v${version}: ${parsed.error?.message}`,
    };
  }
  return {
    kind: "event",
    event: {
      id: id.toLowerCase(),
      type,
      version,
      key: message.key?.toString() ?? "",
      payload: parsed.data,
      traceparent: header(message, "traceparent") || undefined,
      topic,
      partition,
      offset: message.offset,
      timestamp: Number(message.timestamp),
    },
  };
}
