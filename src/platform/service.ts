/**
 * A consumer service: its group, its database role, the topics it reads, the catalog its events
 * are decoded with, and what it does with them. `defineService` builds one from typed handlers:
 * the catalog's types flow into them, so the handler registered for `OrderCreated` receives an
 * event whose payload is `OrderCreated`'s, with no cast, and a handler registered under the wrong
 * type does not compile. The runtime (consumer.ts) decodes every record against the same catalog
 * and hands a handler only the types it registered.
 */
import type { Sql, Tx } from "./db.ts";
import type { Logger } from "./log.ts";
import type { Config } from "./config.ts";
import type { RepeatedJob } from "./repeat.ts";
import type { EventCatalog, TypeOf } from "./event_catalog.ts";
import type { DecodedEvent, EventOf } from "./decode_record.ts";
import { traceIdOf } from "./trace.ts";

/**
 * Applies a run of claimed events, in offset order, inside the transaction that claimed them.
 * Before it changes anything it locks every row the run will change, one statement per table,
 * in key order (`... where id = any($ids) order by id for update`): two runs of different
 * partitions then wait for each other instead of deadlocking. Throw to roll the run back.
 */
export type RunHandler<E = DecodedEvent> = (tx: Tx, events: E[], log: Logger) => Promise<void>;

/** Applies one event, after the run's lock step, with the event's own log context. */
export type EventHandler<E = DecodedEvent> = (tx: Tx, event: E, log: Logger) => Promise<void>;

/** A service as the consumer runtime runs it. */
export interface Service {
  /** The consumer group, also the inbox's `consumer_group`. */
  group: string;
  /**
   * The database role the service's worker logs in as: it can use only the service's own schema,
   * insert into the outbox, and claim its own inbox rows.
   */
  role: string;
  topics: string[];
  /** The catalog records are decoded with. */
  catalog: EventCatalog;
  /** Event types this service applies; any other type on its topics is skipped. */
  types: readonly string[];
  /**
   * Events of its types it has no business with (e.g. an order without a coupon, for
   * coupon-redeemer): skipped like other types, neither claimed in the inbox nor applied.
   */
  ignores?: (event: DecodedEvent) => boolean;
  apply: RunHandler;
  /**
   * Periodic jobs of this service beside consumption (e.g. deadline sweeps), run by the worker.
   * Each must be safe with several instances of the service running at once.
   */
  jobs?: (sql: Sql, cfg: Config, log: Logger) => RepeatedJob[];
}

type ServiceBase = Pick<Service, "group" | "role" | "topics" | "jobs">;

/** Per-event handlers: a lock step over the whole run, then one handler per event type. */
export interface EachEventSpec<C extends EventCatalog, T extends TypeOf<C>> extends ServiceBase {
  /** Locks every row the run touches, once, before any handler runs. */
  lock?: (tx: Tx, events: NoInfer<EventOf<C, T>>[]) => Promise<void>;
  // The handlers' keys alone decide `T`: their values and `lock` are then checked against it.
  handlers: { [K in T]: EventHandler<NoInfer<EventOf<C, K>>> };
}

/** A run handler that decides the whole run at once (set-based), for the types it names. */
export interface EachRunSpec<C extends EventCatalog, T extends TypeOf<C>> extends ServiceBase {
  // `types` alone decides `T`: `apply` is then checked against it.
  types: readonly T[];
  ignores?: (event: NoInfer<EventOf<C, T>>) => boolean;
  apply: RunHandler<NoInfer<EventOf<C, T>>>;
}

/** A service applying events of `catalog` one by one, each type by its own handler. */
export function defineService<C extends EventCatalog, T extends TypeOf<C>>(
  catalog: C,
  spec: EachEventSpec<C, T>,
): Service;
/** A service applying each run of events of `catalog` at once. */
export function defineService<C extends EventCatalog, T extends TypeOf<C>>(
  catalog: C,
  spec: EachRunSpec<C, T>,
): Service;
/**
 * The implementation sees the handlers untyped: the one place the runtime's events meet the typed
 * handlers. That is sound because the runtime decodes every record against this service's
 * `catalog` and passes only its `types`, so each event is the `EventOf<C, T>` its type says.
 */
export function defineService(
  catalog: EventCatalog,
  spec: ServiceBase & {
    lock?: (tx: Tx, events: DecodedEvent[]) => Promise<void>;
    handlers?: Record<string, EventHandler>;
    types?: readonly string[];
    ignores?: (event: DecodedEvent) => boolean;
    apply?: RunHandler;
  },
): Service {
  const { group, role, topics, jobs, lock, handlers = {}, types, ignores, apply } = spec;
  return {
    group,
    role,
    topics,
    jobs,
    catalog,
    ignores,
    types: types ?? Object.keys(handlers),
    apply: apply ?? (async (tx, events, log) => {
      await lock?.(tx, events);
      for (const e of events) await handlers[e.type](tx, e, eventLog(log, e));
    }),
  };
}

/** `log` with the event's context: its id, type, key and trace. */
export function eventLog(log: Logger, e: DecodedEvent): Logger {
  return log.child({
    eventId: e.id,
    eventType: e.type,
    key: e.key,
    traceId: traceIdOf(e.traceparent),
  });
}
