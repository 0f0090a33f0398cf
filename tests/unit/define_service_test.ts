/**
 * `defineService`: a handler gets its own type's events (typed by the catalog, checked by
 * `deno check`: each `@ts-expect-error` must stay an error; the compiler reports a mismatch at
 * the call, or at the property it could pin down), the lock step sees the whole run first, and the
 * service's types are its handlers' keys.
 */
import assert from "node:assert/strict";
import { defineService } from "../../src/platform/service.ts";
import type { Tx } from "../../src/platform/db.ts";
import { logger, setLogLevel } from "../../src/platform/log.ts";
import type { DecodedEvent } from "../../src/platform/decode_record.ts";
import { type Event, EVENTS } from "../../src/events/catalog.ts";

const ORDER = "01938f4a-7b7c-7def-8a12-3456789abcde";
const base = { group: "g", role: "r", topics: ["shop.order"] };

function decoded<T extends string>(type: T, payload: unknown, offset: string): DecodedEvent<T> {
  return {
    id: crypto.randomUUID(),
    type,
    version: 1,
    key: ORDER,
    payload,
    topic: "shop.order",
    partition: 0,
    offset,
    timestamp: 0,
  };
}

Deno.test("defineService: the lock step sees the run, then each event goes to its type's handler", async () => {
  const seen: string[] = [];
  const service = defineService(EVENTS, {
    ...base,
    lock: (_tx, events) => {
      seen.push(`lock ${events.map((e) => e.type).join(",")}`);
      return Promise.resolve();
    },
    handlers: {
      // Typed by the catalog: `items` exists only on OrderCreated, `reason` only on the other.
      OrderCreated: (_tx, e) => {
        seen.push(`created ${e.payload.items.length} line(s)`);
        return Promise.resolve();
      },
      OrderCancelled: (_tx, e) => {
        seen.push(`cancelled ${e.payload.reason}`);
        return Promise.resolve();
      },
    },
  });
  assert.deepEqual(service.types, ["OrderCreated", "OrderCancelled"]);
  assert.equal(service.catalog, EVENTS);
  setLogLevel("error");
  await service.apply({} as Tx, [
    decoded("OrderCreated", { items: [{ productId: ORDER, quantity: 1, unitPrice: 1 }] }, "1"),
    decoded("OrderCancelled", { reason: "TIMEOUT" }, "2"),
  ], logger("test"));
  assert.deepEqual(seen, [
    "lock OrderCreated,OrderCancelled",
    "created 1 line(s)",
    "cancelled TIMEOUT",
  ]);
});

Deno.test("defineService: a handler registered under another type does not compile", () => {
  const onCancelled = (_tx: Tx, _e: Event<"OrderCancelled">) => Promise.resolve();
  const onCreated = (_tx: Tx, _e: Event<"OrderCreated">) => Promise.resolve();
  // @ts-expect-error OrderCreated's handler must take OrderCreated events
  defineService(EVENTS, {
    ...base,
    handlers: { OrderCreated: onCancelled },
  });
  defineService(EVENTS, {
    ...base,
    // @ts-expect-error the lock step must accept every handled type
    lock: (_tx: Tx, _events: Event<"OrderCreated">[]) => Promise.resolve(),
    handlers: { OrderCreated: onCreated, OrderCancelled: onCancelled },
  });
  // @ts-expect-error not an event type of the catalog
  defineService(EVENTS, {
    ...base,
    handlers: { OrderShipped: onCreated },
  });
  // @ts-expect-error a run handler takes the events of the types it names
  defineService(EVENTS, {
    ...base,
    types: ["CouponIssueRequested"],
    apply: (_tx: Tx, _events: Event<"OrderCreated">[]) => Promise.resolve(),
  });
});
