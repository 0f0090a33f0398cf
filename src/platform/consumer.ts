/**
 * The consumer runtime every worker uses: one kafkajs consumer per service group, records of a
 * partition handled in order, each in one Postgres transaction whose first statement claims
 * (group, event id) in the inbox, offsets committed only after the effects committed. Invalid
 * records and records that keep failing go to `<topic>.dlq` with their origin and error, then
 * the partition moves on.
 */
import {
  type Consumer,
  type Kafka,
  type KafkaMessage,
  keyedProducer,
  type Producer,
} from "./kafka.ts";
import { Buffer } from "node:buffer";
import type { Sql, Tx } from "./db.ts";
import type { Logger } from "./log.ts";
import { dlqTopicFor } from "../events/topics.ts";
import { type DecodedEvent, decodeRecord } from "./decode_record.ts";
import { backoffMs, classifyError } from "./errors.ts";
import { consumerMetrics, relayLatency } from "./metrics.ts";
import { childTraceparent, traceIdOf } from "./trace.ts";

export type { DecodedEvent } from "./decode_record.ts";

/** Applies one event inside the transaction that claimed it. Throw to roll everything back. */
export type EventHandler = (tx: Tx, event: DecodedEvent, log: Logger) => Promise<void>;

/**
 * Applies consecutive events of one type at once (set-based), in their order, inside the
 * transaction that claimed them. Must have the same effect as the per-event handler applied to
 * each in turn.
 */
export type BatchHandler = (tx: Tx, events: DecodedEvent[], log: Logger) => Promise<void>;

export interface Service {
  /** The consumer group, also the inbox's `consumer_group`. */
  group: string;
  topics: string[];
  /** Event types this service applies; any other type on its topics is skipped. */
  handlers: Record<string, EventHandler>;
  /** Set-based versions of some handlers, used for runs of consecutive events of that type. */
  batchHandlers?: Record<string, BatchHandler>;
}

export interface ConsumerOptions {
  sql: Sql;
  kafka: Kafka;
  log: Logger;
  /** Partitions handled at once (= TOPIC_PARTITIONS). */
  partitions: number;
  /** Attempts for transient errors (serialization, deadlock) before dead-lettering. @default 5 */
  maxAttempts?: number;
  /** Records applied in one transaction (one inbox claim, set-based handlers). @default 500 */
  batchSize?: number;
}

export interface RunningService {
  /** Stops fetching, finishes the records in hand, commits, disconnects. */
  stop(): Promise<void>;
  /** `running` until stopped or crashed for good. */
  state(): "running" | "stopped" | "crashed";
  /** Resolves when the consumer stopped; rejects if it crashed for good. */
  crashed: Promise<never>;
}

interface Ctx {
  service: Service;
  opts: Required<Omit<ConsumerOptions, "kafka">>;
  producer: Producer;
  running: () => boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends a record to its topic's DLQ with headers naming its origin and the error. Retries until
 * Kafka takes it (or the service stops): the offset must not move past a record that is neither
 * applied nor dead-lettered.
 */
async function deadLetter(
  ctx: Ctx,
  topic: string,
  partition: number,
  message: KafkaMessage,
  errorClass: string,
  errorMessage: string,
): Promise<boolean> {
  const { log } = ctx.opts;
  const headers: Record<string, string | Buffer> = {};
  for (const [k, v] of Object.entries(message.headers ?? {})) {
    if (v !== undefined) headers[k] = Array.isArray(v) ? v[0] : v;
  }
  Object.assign(headers, {
    "dlq.origin.topic": topic,
    "dlq.origin.partition": String(partition),
    "dlq.origin.offset": message.offset,
    "dlq.group": ctx.service.group,
    "dlq.error.class": errorClass,
    "dlq.error.message": errorMessage.slice(0, 1000),
    "dlq.at": new Date().toISOString(),
  });
  for (let attempt = 0; ctx.running(); attempt++) {
    try {
      await ctx.producer.send({
        topic: dlqTopicFor(topic),
        acks: -1,
        messages: [{ key: message.key, value: message.value, headers }],
      });
      consumerMetrics.deadLettered.inc({ group: ctx.service.group, topic });
      log.warn("record dead-lettered", {
        topic,
        partition,
        offset: message.offset,
        errorClass,
        error: errorMessage,
      });
      return true;
    } catch (err) {
      log.error("dead-letter produce failed; retrying", { error: err, attempt });
      await sleep(backoffMs(attempt, 5000));
    }
  }
  return false;
}

/** Handles one record; false when the service stopped before it could be finished. */
async function handleRecord(
  ctx: Ctx,
  topic: string,
  partition: number,
  message: KafkaMessage,
): Promise<boolean> {
  const { service, opts } = ctx;
  const group = service.group;
  const decoded = decodeRecord(topic, partition, message, service.handlers);
  if (decoded.kind === "skip") {
    consumerMetrics.records.inc({ group, topic, outcome: "skipped" });
    return true;
  }
  if (decoded.kind === "poison") {
    return await deadLetter(ctx, topic, partition, message, "PoisonRecord", decoded.reason);
  }
  // The handler's work is a child span of the producer's: follow-up events carry it on.
  const event = { ...decoded.event, traceparent: childTraceparent(decoded.event.traceparent) };
  const log = opts.log.child({
    group,
    eventId: event.id,
    eventType: event.type,
    key: event.key,
    traceId: traceIdOf(event.traceparent),
  });
  const handler = service.handlers[event.type];
  let attempt = 0;
  for (;;) {
    const started = performance.now();
    try {
      const applied = await opts.sql.begin(async (tx) => {
        const claimed = await tx`
          insert into inbox (consumer_group, event_id) values (${group}, ${event.id})
          on conflict do nothing returning 1`;
        if (claimed.length === 0) return false;
        await handler(tx, event, log);
        return true;
      });
      consumerMetrics.records.inc({ group, topic, outcome: applied ? "applied" : "duplicate" });
      if (applied) {
        const seconds = (performance.now() - started) / 1000;
        consumerMetrics.handlerSeconds.observe({ group, type: event.type }, seconds);
      }
      if (applied && event.timestamp > 0) {
        relayLatency.observe({ group }, Math.max(0, Date.now() - event.timestamp) / 1000);
      }
      if (!applied) log.debug("duplicate skipped");
      return true;
    } catch (err) {
      const kind = classifyError(err);
      if (kind === "unavailable") {
        // The database is down: pause this partition until it is back, however long.
        if (!ctx.running()) return false;
        consumerMetrics.retries.inc({ group, kind });
        log.warn("database unavailable; retrying", { error: err, attempt });
        await sleep(backoffMs(attempt++, 5000));
        continue;
      }
      if (kind === "transient" && ++attempt < opts.maxAttempts) {
        consumerMetrics.retries.inc({ group, kind });
        log.info("transient failure; retrying", { error: err, attempt });
        await sleep(backoffMs(attempt, 2000));
        continue;
      }
      const errorClass = kind === "transient"
        ? "RetriesExhausted"
        : (err as Error)?.name ?? "Error";
      return await deadLetter(
        ctx,
        topic,
        partition,
        message,
        errorClass,
        String((err as Error)?.message ?? err),
      );
    }
  }
}

/**
 * Applies a run of records in one transaction: decode all (poison to the DLQ, foreign types
 * skipped), claim every event id in the inbox with one statement, then apply the claimed events
 * in offset order, consecutive events of a type with a batch handler at once. If the transaction
 * fails for a reason other than an unreachable database, the run is redone record by record, so
 * only the failing record is retried or dead-lettered. Returns how many records are done.
 */
async function handleChunk(
  ctx: Ctx,
  topic: string,
  partition: number,
  messages: KafkaMessage[],
): Promise<number> {
  const { service, opts } = ctx;
  const group = service.group;
  if (messages.length === 1) {
    return (await handleRecord(ctx, topic, partition, messages[0])) ? 1 : 0;
  }
  const events: DecodedEvent[] = [];
  for (const message of messages) {
    const d = decodeRecord(topic, partition, message, service.handlers);
    if (d.kind === "event") {
      events.push({ ...d.event, traceparent: childTraceparent(d.event.traceparent) });
    } else if (d.kind === "skip") {
      consumerMetrics.records.inc({ group, topic, outcome: "skipped" });
    } else if (!(await deadLetter(ctx, topic, partition, message, "PoisonRecord", d.reason))) {
      return 0;
    }
  }
  if (events.length === 0) return messages.length;
  for (let attempt = 0;; attempt++) {
    const started = performance.now();
    try {
      const applied = await opts.sql.begin(async (tx) => {
        const claimed = new Set(
          (await tx<{ event_id: string }[]>`
            insert into inbox (consumer_group, event_id)
            select ${group}, unnest(${events.map((e) => e.id)}::uuid[])
            on conflict do nothing returning event_id`).map((r) => r.event_id),
        );
        // Each claimed id once, in offset order (a re-sent copy inside the run is a duplicate).
        const fresh = events.filter((e) => claimed.delete(e.id));
        for (let i = 0; i < fresh.length;) {
          let j = i + 1;
          const batch = service.batchHandlers?.[fresh[i].type];
          if (batch) {
            while (j < fresh.length && fresh[j].type === fresh[i].type) j++;
            await batch(tx, fresh.slice(i, j), opts.log.child({ group, eventType: fresh[i].type }));
          } else {
            const e = fresh[i];
            await service.handlers[e.type](
              tx,
              e,
              opts.log.child({
                group,
                eventId: e.id,
                eventType: e.type,
                key: e.key,
                traceId: traceIdOf(e.traceparent),
              }),
            );
          }
          i = j;
        }
        return fresh;
      });
      const seconds = (performance.now() - started) / 1000;
      for (const e of applied) {
        consumerMetrics.handlerSeconds.observe({ group, type: e.type }, seconds / applied.length);
        if (e.timestamp > 0) {
          relayLatency.observe({ group }, Math.max(0, Date.now() - e.timestamp) / 1000);
        }
      }
      consumerMetrics.records.inc({ group, topic, outcome: "applied" }, applied.length);
      if (events.length > applied.length) {
        consumerMetrics.records.inc(
          { group, topic, outcome: "duplicate" },
          events.length - applied.length,
        );
      }
      return messages.length;
    } catch (err) {
      if (classifyError(err) === "unavailable") {
        if (!ctx.running()) return 0;
        consumerMetrics.retries.inc({ group, kind: "unavailable" });
        opts.log.warn("database unavailable; retrying", { error: err, attempt });
        await sleep(backoffMs(attempt, 5000));
        continue;
      }
      opts.log.info("batch failed; applying its records one by one", {
        error: err,
        size: events.length,
      });
      // Poison was dead-lettered above; only the decoded records are redone.
      let done = 0;
      for (const message of messages) {
        const d = decodeRecord(topic, partition, message, service.handlers);
        if (d.kind === "event" && !(await handleRecord(ctx, topic, partition, message))) {
          return done;
        }
        done++;
      }
      return done;
    }
  }
}

/**
 * Runs `service` until `stop()`. A consumer crash that kafkajs will not restart by itself
 * rejects `crashed`, so the process can exit non-zero instead of hanging.
 */
export async function runService(
  service: Service,
  options: ConsumerOptions,
): Promise<RunningService> {
  const opts = { maxAttempts: 5, batchSize: 500, ...options };
  const { kafka, log } = opts;
  let stopping = false;
  let crashedForGood = false;
  const producer = kafka.producer({ ...keyedProducer, allowAutoTopicCreation: false });
  const consumer: Consumer = kafka.consumer({
    groupId: service.group,
    maxWaitTimeInMs: 50,
    // A killed worker's partitions wait for its session to expire before another member (or
    // its restart) takes them: 10 s instead of 30 s bounds that pause.
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    allowAutoTopicCreation: false,
  });
  const ctx: Ctx = { service, opts, producer, running: () => !stopping };

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

  await producer.connect();
  await consumer.connect();
  for (const topic of service.topics) {
    // A new group starts at the beginning: events written before its first start are not lost.
    await consumer.subscribe({ topic, fromBeginning: true });
  }
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: opts.partitions,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      const { topic, partition } = batch;
      let pending: string | undefined;
      const commit = async () => {
        if (pending === undefined) return;
        await consumer.commitOffsets([{
          topic,
          partition,
          offset: (BigInt(pending) + 1n).toString(),
        }]);
        pending = undefined;
      };
      const messages = batch.messages;
      for (let i = 0; i < messages.length && isRunning() && !isStale();) {
        const chunk = messages.slice(i, i + opts.batchSize);
        const done = await handleChunk(ctx, topic, partition, chunk);
        if (done > 0) {
          const last = chunk[done - 1].offset;
          resolveOffset(last);
          pending = last;
          await commit();
        }
        if (done < chunk.length) break;
        i += done;
        await heartbeat();
      }
      await commit();
    },
  });
  log.info("consuming", { group: service.group, topics: service.topics });

  return {
    crashed,
    state: () => crashedForGood ? "crashed" : stopping ? "stopped" : "running",
    async stop() {
      stopping = true;
      await consumer.disconnect();
      await producer.disconnect();
      log.info("consumer stopped", { group: service.group });
    },
  };
}
