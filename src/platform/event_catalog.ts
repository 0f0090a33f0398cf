/**
 * What the platform needs to know of an application's events, and nothing more: for each event
 * type, the aggregate it belongs to (the topic), how it is keyed, its version and its payload
 * schema. The application defines its catalog (src/events/catalog.ts) and hands it to the
 * platform (the outbox publisher, the consumer runtime), so the platform never imports it and its
 * types flow from the catalog into publishers and handlers.
 */
import type { z } from "zod";

/** One event type. */
export interface EventSpec<S extends z.ZodType = z.ZodType> {
  /** The aggregate type: the outbox's `aggregatetype`, hence the topic the relay routes to. */
  aggregate: string;
  /** The schema version: header `eventVersion`; a consumer refuses any other. */
  version: number;
  /** The payload's schema: checked before an event is written and after it is read. */
  schema: S;
  /**
   * The Kafka key: which field of the payload orders events of one aggregate.
   * A method, not a function property, so a catalog of specific payload types is an
   * `EventCatalog` (method parameters are compared bivariantly).
   */
  key(payload: z.output<S>): string;
}

/** Event types by name. */
export type EventCatalog = Record<string, EventSpec>;

/** The names of a catalog's event types. */
export type TypeOf<C extends EventCatalog> = keyof C & string;

/** The payload of event type `T` of catalog `C`, as a consumer reads it. */
export type PayloadOf<C extends EventCatalog, T extends TypeOf<C>> = z.output<C[T]["schema"]>;
