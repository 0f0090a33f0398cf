/**
 * Turns a Kafka record from the relay into a typed event, or says why it is poison. Pure, so the
 * rules are unit-tested: header `id` a UUID, header `eventType` a type of the catalog it is given,
 * header `eventVersion` the catalog's version, and the value a JSON payload valid for that schema.
 */
import type { KafkaMessage } from "./kafka.ts";
import type { EventCatalog, PayloadOf, TypeOf } from "./event_catalog.ts";

export interface DecodedEvent<T extends string = string, P = unknown> {
  id: string;
  type: T;
  version: number;
  key: string;
  payload: P;
  traceparent?: string;
  topic: string;
  partition: number;
  offset: string;
  /** Record timestamp: the event's creation time (see the relay config). */
  timestamp: number;
}

/**
 * A decoded event of catalog `C` whose type is one of `T`: a union over the types, so checking
 * `event.type` narrows `event.payload` to that type's payload.
 */
export type EventOf<C extends EventCatalog, T extends TypeOf<C> = TypeOf<C>> = {
  [K in T]: DecodedEvent<K, PayloadOf<C, K>>;
}[T];

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

/**
 * Decodes `message` against `catalog`; types of the catalog without a handler in `handled` are
 * skipped, not poison.
 */
export function decodeRecord(
  topic: string,
  partition: number,
  message: KafkaMessage,
  catalog: EventCatalog,
  handled: Record<string, unknown>,
): Decoded {
  const id = header(message, "id");
  const type = header(message, "eventType");
  if (!id || !UUID.test(id)) {
    return { kind: "poison", reason: "header 'id' is missing or not a UUID" };
  }
  if (!type) return { kind: "poison", reason: "header 'eventType' is missing" };
  const spec = Object.hasOwn(catalog, type) ? catalog[type] : undefined;
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
