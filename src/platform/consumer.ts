/**
 * The consumer runtime every worker uses: a thin adapter between the Kafka client and the
 * delivery policy (delivery_policy.ts), which makes every decision. One kafkajs consumer per
 * service group; records of a partition are applied in offset order, in runs (what one fetch
 * brought, up to the policy's `batchSize`). A single record is a run of one.
 *
 * A run is one Postgres transaction: claim every (group, event id) in the inbox with one
 * statement, hand the claimed events to the service's run handler (which locks every row the
 * run touches up front, in key order, then applies the events in offset order), commit; then
 * commit the Kafka offset. What a failure leads to (wait for a probe of the dependency, retry,
 * split the run, dead-letter, park) is the policy's table.
 */
import { trackedSleep } from "./wait_for.ts";
import type { Consumer, Kafka, KafkaMessage, Producer } from "./kafka.ts";
import { keyedProducer } from "./kafka.ts";
import type { Sql, Tx } from "./db.ts";
import type { Logger } from "./log.ts";
import { type Decoded, type DecodedEvent, decodeRecord } from "./decode_record.ts";
import { deadLetterOnce } from "./dead_letter.ts";
import { classifyError, dependencyOf } from "./errors.ts";
import { consumerMetrics, relayLatency } from "./metrics.ts";
import { childTraceparent } from "./trace.ts";
import type { Service } from "./service.ts";
import {
  type Action,
  DEFAULT_POLICY,
  type Failure,
  newPartitionState,
  next,
  type PartitionState,
  type PolicyConfig,
} from "./delivery_policy.ts";
import type { ProbeWaiter } from "./probe_waiter.ts";
import { STATIC_SESSION_TIMEOUT_MS } from "./static_membership.ts";

export interface ConsumerOptions {
  sql: Sql;
  kafka: Kafka;
  log: Logger;
  /** Partitions handled at once (= TOPIC_PARTITIONS). */
  partitions: number;
  /** Resumes partitions paused on an unreachable dependency once it answers. */
  probes: ProbeWaiter;
  /** The policy's settings; the defaults otherwise. */
  policy?: Partial<PolicyConfig>;
  /** Counters and histograms the runtime reports to. @default the process's registry */
  metrics?: { consumer: typeof consumerMetrics; relayLatency: typeof relayLatency };
  /**
   * A stable id of this replica in its group (`<group>-<replica index>`): the consumer is then a
   * static member (KIP-345). Unset: a dynamic member. @see STATIC_SESSION_TIMEOUT_MS
   */
  instanceId?: string;
}

export { STATIC_SESSION_TIMEOUT_MS } from "./static_membership.ts";

export interface RunningService {
  /** Stops fetching, finishes the run in hand, commits its offset, then disconnects. */
  stop(): Promise<void>;
  /** `running` until stopped or crashed for good; `failing` while a partition is parked. */
  state(): "running" | "stopped" | "crashed" | "failing";
  /** Rejects if the consumer crashed for good. */
  crashed: Promise<never>;
}

function failureOf(err: unknown): Failure {
  return {
    kind: classifyError(err),
    dependency: dependencyOf(err),
    name: (err as Error)?.name ?? "Error",
    message: String((err as Error)?.message ?? err),
  };
}

/**
 * The body of a run's transaction: claims every event's (group, id) in the inbox with one
 * statement and hands the claimed ones, each once and in offset order (a re-sent copy inside the
 * run is a duplicate), to the service's run handler. Returns the events applied.
 */
export async function claimAndApply(
  tx: Tx,
  service: Service,
  events: DecodedEvent[],
  log: Logger,
): Promise<DecodedEvent[]> {
  const claimed = new Set(
    (await tx<{ event_id: string }[]>`
      insert into inbox (consumer_group, event_id)
      select ${service.group}, unnest(${events.map((e) => e.id)}::uuid[])
      on conflict do nothing returning event_id`).map((r) => r.event_id),
  );
  const fresh = events.filter((e) => claimed.delete(e.id));
  if (fresh.length > 0) await service.apply(tx, fresh, log);
  return fresh;
}

/**
 * Runs `service` until `stop()`. A consumer crash that kafkajs will not restart by itself
 * rejects `crashed`, so the worker can start a fresh consumer (or exit non-zero).
 */
export async function runService(
  service: Service,
  options: ConsumerOptions,
): Promise<RunningService> {
  const { kafka, log, sql, probes } = options;
  const policy: PolicyConfig = { ...DEFAULT_POLICY, ...options.policy };
  const metrics = options.metrics ?? { consumer: consumerMetrics, relayLatency };
  const group = service.group;
  const handled = Object.fromEntries(service.types.map((t) => [t, true]));
  const handlerLog = log.child({ group });
  let stopping = false;
  let crashedForGood = false;
  const parked = new Map<string, string>();
  const producer: Producer = kafka.producer({ ...keyedProducer, allowAutoTopicCreation: false });
  const consumer: Consumer = kafka.consumer({
    groupId: group,
    // A static member neither leaves on stop nor is replaced on restart (vendor/kafkajs).
    groupInstanceId: options.instanceId ?? null,
    maxWaitTimeInMs: 50,
    // A killed worker's partitions wait for its session to expire before another member takes
    // them (a static member's restart takes them back at once): 10 s instead of 30 s bounds it.
    sessionTimeout: STATIC_SESSION_TIMEOUT_MS,
    heartbeatInterval: 1_000,
    allowAutoTopicCreation: false,
    // Few, short retries, then a crash that kafkajs restarts at once. Unpatched kafkajs kept
    // committing to a dead coordinator until its retries ran out ("Broker N not found in the
    // cached metadata"; 20-45 s with 8 rounds of up to 2 s, docs/cluster.md); the vendored copy
    // re-discovers the coordinator (vendor/kafkajs/PATCHES.md, patch 1), not yet measured on
    // the cluster, so the short rounds stay. A run is idempotent (the inbox): redoing it costs
    // nothing.
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1_000 },
  });
  const states = new Map<string, PartitionState>();
  const inFlight = new Set<Promise<void>>();
  const timers = new Set<ReturnType<typeof setTimeout>>();

  let rejectCrash!: (e: Error) => void;
  const crashed = new Promise<never>((_, reject) => (rejectCrash = reject));
  crashed.catch(() => {}); // observed by the caller; never an unhandled rejection here
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    log.error("consumer crashed", { error: payload.error, willRestart: payload.restart });
    if (!payload.restart) {
      crashedForGood = true;
      rejectCrash(payload.error);
    }
  });

  /** One transaction: claim the events in the inbox, apply the fresh ones. */
  const applyEvents = async (topic: string, events: DecodedEvent[]) => {
    const started = performance.now();
    const fresh = await sql.begin((tx) => claimAndApply(tx, service, events, handlerLog));
    const seconds = (performance.now() - started) / 1000;
    for (const e of fresh) {
      metrics.consumer.handlerSeconds.observe({ group, type: e.type }, seconds / fresh.length);
      if (e.timestamp > 0) {
        metrics.relayLatency.observe({ group }, Math.max(0, Date.now() - e.timestamp) / 1000);
      }
    }
    if (fresh.length > 0) {
      metrics.consumer.records.inc({ group, topic, outcome: "applied" }, fresh.length);
    }
    const duplicates = events.length - fresh.length;
    if (duplicates > 0) {
      metrics.consumer.records.inc({ group, topic, outcome: "duplicate" }, duplicates);
      log.debug("duplicates skipped", { topic, count: duplicates });
    }
  };

  /** Pauses the partition; `resumeWhen` settles when it may be fetched again. */
  const pauseUntil = (pause: () => () => void, resumeWhen: Promise<unknown>) => {
    const resume = pause();
    resumeWhen.then(() => {
      if (!stopping) resume();
    });
  };
  const delay = (ms: number) => trackedSleep(timers, ms);

  /**
   * One fetched batch of a partition: runs until the batch is done, the partition is paused, or
   * the consumer stops. Every decision is `next(...)`; this only carries the actions out.
   */
  const handleBatch = async (
    topic: string,
    partition: number,
    messages: KafkaMessage[],
    resolveOffset: (offset: string) => void,
    heartbeat: () => Promise<void>,
    pause: () => () => void,
    isStale: () => boolean,
  ) => {
    const key = `${topic}/${partition}`;
    const state = states.get(key) ?? newPartitionState();
    states.set(key, state);
    const where = { topic, partition };
    let i = 0;
    let run: KafkaMessage[] = [];
    let action: Action = next(state, messages, { kind: "fetched" }, policy);
    for (;;) {
      // Stopping (or losing the partition) ends the batch before new work, never between a run
      // and its commit: an applied run's offset is committed, or its restart redelivers it.
      if ((stopping || isStale()) && action.kind !== "commit") return;
      switch (action.kind) {
        case "take": {
          run = messages.slice(i, i + action.count);
          const decoded = run.map((m): Decoded => {
            const d = decodeRecord(topic, partition, m, service.catalog, handled);
            // An event the service has no business with is skipped like a type it does not
            // handle: neither claimed nor applied, its offset committed with the run's.
            return d.kind === "event" && service.ignores?.(d.event)
              ? { kind: "skip", type: d.event.type }
              : d;
          });
          action = next(state, run, { kind: "decoded", decoded }, policy);
          break;
        }
        case "apply": {
          // The handler's work is a child span of the producer's: follow-up events carry it on.
          const events = action.events.map((e) => ({
            ...e,
            traceparent: childTraceparent(e.traceparent),
          }));
          const { count, skipped } = action;
          // A run may wait on the database (a hung connection answers nothing for a while):
          // keep heartbeating meanwhile so the group does not evict this member and rebalance.
          const beat = setInterval(() => heartbeat().catch(() => {}), 1000);
          try {
            await applyEvents(topic, events);
            action = next(state, run, { kind: "applied", count, skipped }, policy);
          } catch (err) {
            action = next(state, run, {
              kind: "applyFailed",
              failure: failureOf(err),
              eventId: events[0]?.id,
            }, policy);
          } finally {
            clearInterval(beat);
          }
          break;
        }
        case "commit": {
          if (action.skipped > 0) {
            metrics.consumer.records.inc({ group, topic, outcome: "skipped" }, action.skipped);
          }
          const last = run[action.count - 1].offset;
          resolveOffset(last);
          await consumer.commitOffsets([{
            topic,
            partition,
            offset: (BigInt(last) + 1n).toString(),
          }]);
          parked.delete(key);
          i += action.count;
          if (i >= messages.length) return;
          await heartbeat();
          action = next(state, messages.slice(i), { kind: "fetched" }, policy);
          break;
        }
        case "split":
          log.info("run split: its records go one by one", {
            ...where,
            size: run.length,
            reason: action.reason,
          });
          action = next(state, messages.slice(i), { kind: "fetched" }, policy);
          break;
        case "deadLetter": {
          const message = run[0];
          const { errorClass, errorMessage, eventId } = action;
          try {
            const sent = await deadLetterOnce(sql, producer, {
              group,
              topic,
              partition,
              message,
              eventId,
              errorClass,
              errorMessage,
            });
            if (sent) metrics.consumer.deadLettered.inc({ group, topic });
            log.warn(sent ? "record dead-lettered" : "record was dead-lettered before; skipped", {
              ...where,
              offset: message.offset,
              eventId,
              errorClass,
              error: errorMessage,
            });
            action = next(state, run, { kind: "deadLettered" }, policy);
          } catch (err) {
            action = next(
              state,
              run,
              { kind: "deadLetterFailed", failure: failureOf(err) },
              policy,
            );
          }
          break;
        }
        case "retry":
          metrics.consumer.retries.inc({ group, kind: action.failure.kind });
          log.info("transient failure; the run is retried", {
            ...where,
            size: run.length,
            error: action.failure.message,
            attempt: action.attempt,
            waitMs: action.waitMs,
          });
          // Only this partition pauses: the rest keep flowing and the consumer keeps
          // heartbeating. kafkajs fetches the unresolved records again after the resume.
          pauseUntil(pause, delay(action.waitMs));
          return;
        case "waitFor": {
          metrics.consumer.retries.inc({ group, kind: action.failure.kind });
          log.warn(`${action.dependency} unreachable; the partition waits for it`, {
            ...where,
            error: action.failure.message,
            attempt: action.attempt,
          });
          const floor = delay(action.minWaitMs);
          pauseUntil(pause, Promise.all([probes.until(action.dependency), floor]));
          return;
        }
        case "park":
          parked.set(key, action.reason);
          log.error("partition parked: its dead letter is refused; retried later", {
            ...where,
            reason: action.reason,
            retryMs: action.retryMs,
          });
          pauseUntil(pause, delay(action.retryMs));
          return;
      }
    }
  };

  // The relay writes in Kafka transactions (exactly-once source): each ends with a commit marker,
  // which takes an offset but is never handed to a handler. kafkajs moves past a batch of only
  // such markers without calling us, and commits it only with autoCommit: commit it here, or every
  // partition would read a lag of 1 at rest and a restart would fetch the marker again. The
  // records before it were all committed already (a partition's batches come one at a time).
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (stopping || payload.batchSize > 0) return;
    consumer.commitOffsets([{
      topic: payload.topic,
      partition: payload.partition,
      offset: (BigInt(payload.lastOffset) + 1n).toString(),
    }]).catch((err) => log.debug("committing past a transaction marker failed", { error: err }));
  });

  await producer.connect();
  await consumer.connect();
  for (const topic of service.topics) {
    // A new group starts at the beginning: events written before its first start are not lost.
    await consumer.subscribe({ topic, fromBeginning: true });
  }
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: options.partitions,
    eachBatch: async ({ batch, resolveOffset, heartbeat, pause, isStale }) => {
      if (stopping) return;
      const work = handleBatch(
        batch.topic,
        batch.partition,
        batch.messages,
        resolveOffset,
        heartbeat,
        pause,
        isStale,
      );
      inFlight.add(work);
      try {
        await work;
      } finally {
        inFlight.delete(work);
      }
    },
  });
  log.info("consuming", { group, topics: service.topics });

  return {
    crashed,
    state: () =>
      crashedForGood ? "crashed" : stopping ? "stopped" : parked.size > 0 ? "failing" : "running",
    async stop() {
      stopping = true;
      for (const t of timers) clearTimeout(t);
      // The runs in hand finish and commit their offsets before the consumer leaves the group.
      await Promise.allSettled([...inFlight]);
      await consumer.disconnect();
      await producer.disconnect();
      log.info("consumer stopped", { group });
    },
  };
}
