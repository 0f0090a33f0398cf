/**
 * Event types made up for tests and benchmarks of the outbox and the relay: they go through the
 * one `publish` the system uses, from a catalog of their own that routes every type to an
 * aggregate type (so a topic) no worker reads, takes any JSON payload and keys each event with
 * `key`. The shop's catalog stays the only one the services speak.
 */
import { z } from "zod";
import { createPublisher, type Publisher } from "../../src/platform/publish.ts";
import type { EventSpec } from "../../src/platform/event_catalog.ts";

type AnyPayload = Record<string, unknown>;

/**
 * A publisher of `types` (name to schema version) under `aggregateType`, each event keyed by
 * `key(payload)`.
 */
export function adHocPublisher<T extends string>(
  aggregateType: string,
  types: Record<T, number>,
  key: (payload: AnyPayload) => string,
): Publisher<Record<T, EventSpec<z.ZodType<AnyPayload>>>> {
  const schema: z.ZodType<AnyPayload> = z.record(z.string(), z.unknown());
  const catalog = Object.fromEntries(
    Object.entries<number>(types).map(([type, version]) => [
      type,
      { aggregate: aggregateType, version, schema, key },
    ]),
  ) as Record<T, EventSpec<z.ZodType<AnyPayload>>>;
  return createPublisher(catalog);
}
