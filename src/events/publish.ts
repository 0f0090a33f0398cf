/**
 * `publish` for the shop's events: the platform's outbox publisher made from the catalog, so every
 * write path appends events one way, typed and validated by `EVENTS` (see platform/publish.ts).
 */
import { createPublisher, type Publishable as Of } from "../platform/publish.ts";
import { EVENTS } from "./catalog.ts";

export const { publish, publishQuery } = createPublisher(EVENTS);

/** A shop event to publish: its type and that type's payload. */
export type Publishable = Of<typeof EVENTS>;
