/**
 * The consumer runtime every worker uses: one kafkajs consumer per service group; records of a
 * partition are applied in offset order, in runs (what one fetch brought, up to `batchSize`).
 * One path for everything: a single record is a run of one.
 *
 * A run is one Postgres transaction: claim every (group, event id) in the inbox with one
 * statement, hand the claimed events to the service's run handler (which locks every row the
 * run touches up front, in key order, then applies the events in offset order), commit; then
 * commit the Kafka offset. Failures are told apart by `classifyError`:
 * - infrastructure: pause this partition, resume after a backoff, retry the run, for as long as
 *   it takes (the consumer keeps heartbeating and the other partitions keep flowing);
 * - transient: the same pause and retry, `maxAttempts` times, then the run is redone record by
 *   record so only the failing record is retried further and finally dead-lettered;
 * - data (an invalid record, a deterministic SQL error): record by record at once, the failing
 *   record to `<topic>.dlq` (once, see dead_letter.ts), and the partition moves on.
 */
import type { Consumer, Kafka, KafkaMessage, Producer } from "./kafka.ts";
import { keyedProducer } from "./kafka.ts";
import type { Sql } from "./db.ts";
import type { Logger } from "./log.ts";
import { type DecodedEvent, decodeRecord } from "./decode_record.ts";
import { deadLetterOnce } from "./dead_letter.ts";
import { backoffMs, classifyError } from "./errors.ts";
import { consumerMetrics, relayLatency } from "./metrics.ts";
import { childTraceparent } from "./trace.ts";
import type { Service } from "./service.ts";

export interface ConsumerOptions {
  sql: Sql;
  kafka: Kafka;
  log: Logger;
  /** Partitions handled at once (= TOPIC_PARTITIONS). */
  partitions: number;
  /** Attempts for transient errors (serialization, deadlock) before dead-lettering. @default 5 */
  maxAttempts?: number;
  /** Records applied in one transaction (one inbox claim, one lock step). @default 500 */
  batchSize?: number;
}

export interface RunningService {
  /** Stops fetching, finishes the run in hand, commits its offset, then disconnects. */
  stop(): Promise<void>;
  /** `running` until stopped or crashed for good; `failing` while a partition is parked. */
  state(): "running" | "stopped" | "crashed" | "failing";
  /** Rejects if the consumer crashed for good. */
  crashed: Promise<never>;
}

/** What became of a run: how many records are done, and whether to pause before the rest. */
interface Outcome {
  done: number;
  /** Pause the partition this long, then fetch the undone records again. */
  waitMs?: number;
  /** Park the partition: a dead letter Kafka refuses for good (reported, not looped on). */
  park?: string;
}

/** Retry bookkeeping of one partition, kept across pauses (a paused run is fetched again). */
interface PartitionState {
  /**
   * Attempts of the run starting at an offset. Keyed by the offset alone: a run fetched again
   * after a pause may be longer (new records arrived), and must not start counting anew.
   */
  attempts: Map<string, number>;
  /** Until this offset, runs are single records (a run failed as a whole; find the culprit). */
  singleUntil?: bigint;
}

interface Ctx {
  service: Service;
  opts: Required<Omit<ConsumerOptions, "kafka">>;
  producer: Producer;
}

function nextAttempt(state: PartitionState, messages: KafkaMessage[]): number {
  const key = messages[0].offset;
  const n = (state.attempts.get(key) ?? 0) + 1;
  state.attempts.set(key, n);
  return n;
}

/** Dead-letters one record; infrastructure failures wait, a refusal for good parks. */
async function deadLetter(
  ctx: Ctx,
  state: PartitionState,
  topic: string,
  partition: number,
  message: KafkaMessage,
  errorClass: string,
  errorMessage: string,
  eventId?: string,
): Promise<Outcome> {
  const { service: { group }, opts: { log, sql } } = ctx;
  try {
    const sent = await deadLetterOnce(sql, ctx.producer, {
      group,
      topic,
      partition,
      message,
      eventId,
      errorClass,
      errorMessage,
    });
    if (sent) consumerMetrics.deadLettered.inc({ group, topic });
    log.warn(sent ? "record dead-lettered" : "record was dead-lettered before; skipped", {
      topic,
      partition,
      offset: message.offset,
      eventId,
      errorClass,
      error: errorMessage,
    });
    return { done: 1 };
  } catch (err) {
    if (classifyError(err) === "infrastructure") {
      const attempt = nextAttempt(state, [message]);
      consumerMetrics.retries.inc({ group, kind: "infrastructure" });
      log.warn("dead-lettering waits for the database or Kafka", { error: err, attempt });
      return { done: 0, waitMs: backoffMs(attempt, 5000) };
    }
    const reason = `cannot dead-letter ${topic}/${partition}@${message.offset}: ${
      (err as Error)?.message ?? err
    }`;
    log.error("dead-letter topic refuses the record; partition parked", { error: err, reason });
    return { done: 0, park: reason };
  }
}

/** Applies `messages` (consecutive records of one partition) as one run; see the module doc. */
async function applyRun(
  ctx: Ctx,
  state: PartitionState,
  topic: string,
  partition: number,
  messages: KafkaMessage[],
): Promise<Outcome> {
  const { service, opts } = ctx;
  const group = service.group;
  const handled = Object.fromEntries(service.types.map((t) => [t, true]));
  const events: DecodedEvent[] = [];
  let skipped = 0; // counted once the run is done: a retried run decodes its records again
  let index = 0;
  for (const message of messages) {
    const d = decodeRecord(topic, partition, message, service.catalog, handled);
    if (d.kind === "event") {
      // The handler's work is a child span of the producer's: follow-up events carry it on.
      events.push({ ...d.event, traceparent: childTraceparent(d.event.traceparent) });
    } else if (d.kind === "skip") {
      skipped++;
    } else if (messages.length > 1) {
      // Poison inside a run: apply the records before it, dead-letter it alone, go on.
      state.singleUntil = BigInt(message.offset);
      return index === 0
        ? { done: 0, waitMs: 0 }
        : await applyRun(ctx, state, topic, partition, messages.slice(0, index));
    } else {
      return await deadLetter(ctx, state, topic, partition, message, "PoisonRecord", d.reason);
    }
    index++;
  }
  const countSkipped = () => {
    if (skipped > 0) consumerMetrics.records.inc({ group, topic, outcome: "skipped" }, skipped);
  };
  if (events.length === 0) {
    countSkipped();
    return { done: messages.length };
  }

  const started = performance.now();
  try {
    const fresh = await opts.sql.begin(async (tx) => {
      const claimed = new Set(
        (await tx<{ event_id: string }[]>`
          insert into inbox (consumer_group, event_id)
          select ${group}, unnest(${events.map((e) => e.id)}::uuid[])
          on conflict do nothing returning event_id`).map((r) => r.event_id),
      );
      // Each claimed id once, in offset order (a re-sent copy inside the run is a duplicate).
      const fresh = events.filter((e) => claimed.delete(e.id));
      if (fresh.length > 0) await service.apply(tx, fresh, opts.log.child({ group }));
      return fresh;
    });
    const seconds = (performance.now() - started) / 1000;
    for (const e of fresh) {
      consumerMetrics.handlerSeconds.observe({ group, type: e.type }, seconds / fresh.length);
      if (e.timestamp > 0) {
        relayLatency.observe({ group }, Math.max(0, Date.now() - e.timestamp) / 1000);
      }
    }
    if (fresh.length > 0) {
      consumerMetrics.records.inc({ group, topic, outcome: "applied" }, fresh.length);
    }
    if (events.length > fresh.length) {
      consumerMetrics.records.inc(
        { group, topic, outcome: "duplicate" },
        events.length - fresh.length,
      );
      opts.log.debug("duplicates skipped", {
        topic,
        partition,
        count: events.length - fresh.length,
      });
    }
    countSkipped();
    state.attempts.clear();
    return { done: messages.length };
  } catch (err) {
    const kind = classifyError(err);
    const attempt = nextAttempt(state, messages);
    if (kind === "infrastructure") {
      consumerMetrics.retries.inc({ group, kind });
      opts.log.warn("database unreachable; the partition waits", {
        topic,
        partition,
        error: err,
        attempt,
      });
      return { done: 0, waitMs: backoffMs(attempt, 5000) };
    }
    if (kind === "transient" && attempt < opts.maxAttempts) {
      consumerMetrics.retries.inc({ group, kind });
      opts.log.info("transient failure; retrying the run", {
        topic,
        partition,
        size: messages.length,
        error: err,
        attempt,
      });
      return { done: 0, waitMs: backoffMs(attempt, 2000) };
    }
    if (messages.length > 1) {
      opts.log.info("run failed; applying its records one by one", {
        topic,
        partition,
        size: messages.length,
        error: err,
      });
      state.singleUntil = BigInt(messages.at(-1)!.offset);
      state.attempts.clear(); // each record of the run counts its own attempts from here
      return { done: 0, waitMs: 0 };
    }
    const errorClass = kind === "transient" ? "RetriesExhausted" : (err as Error)?.name ?? "Error";
    const message = String((err as Error)?.message ?? err);
    return await deadLetter(
      ctx,
      state,
      topic,
      partition,
      messages[0],
      errorClass,
      message,
      events[0]?.id,
    );
  }
}

/**
 * Runs `service` until `stop()`. A consumer crash that kafkajs will not restart by itself
 * rejects `crashed`, so the worker can start a fresh consumer (or exit non-zero).
 */
export async function runService(
  service: Service,
  options: ConsumerOptions,
): Promise<RunningService> {
  const opts = { maxAttempts: 5, batchSize: 500, ...options };
  const { kafka, log } = opts;
  let stopping = false;
  let crashedForGood = false;
  const parked = new Map<string, string>();
  const producer = kafka.producer({ ...keyedProducer, allowAutoTopicCreation: false });
  const consumer: Consumer = kafka.consumer({
    groupId: service.group,
    maxWaitTimeInMs: 50,
    // A killed worker's partitions wait for its session to expire before another member (or
    // its restart) takes them: 10 s instead of 30 s bounds that pause.
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    allowAutoTopicCreation: false,
    // Few, short retries, then a crash that kafkajs restarts at once: a consumer whose group
    // coordinator died keeps committing to the dead node until its retries run out ("Broker N
    // not found in the cached metadata"); only the restart finds the new coordinator. With 8
    // rounds of up to 2 s that took 20-45 s after a broker kill (docs/cluster.md); a run is
    // idempotent (the inbox), so redoing it after the restart costs nothing.
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1_000 },
  });
  const ctx: Ctx = { service, opts, producer };
  const states = new Map<string, PartitionState>();
  const inFlight = new Set<Promise<void>>();
  const resumeTimers = new Set<ReturnType<typeof setTimeout>>();

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
    const state: PartitionState = states.get(key) ?? { attempts: new Map() };
    states.set(key, state);
    for (let i = 0; i < messages.length && !stopping && !isStale();) {
      const first = BigInt(messages[i].offset);
      if (state.singleUntil !== undefined && first > state.singleUntil) {
        state.singleUntil = undefined;
      }
      const size = state.singleUntil === undefined ? opts.batchSize : 1;
      const run = messages.slice(i, i + size);
      // A run may wait on the database (a hung connection answers nothing for a while): keep
      // heartbeating meanwhile so the group does not evict this member and rebalance.
      const beat = setInterval(() => heartbeat().catch(() => {}), 1000);
      let out: Outcome;
      try {
        out = await applyRun(ctx, state, topic, partition, run);
      } finally {
        clearInterval(beat);
      }
      if (out.done > 0) {
        const last = run[out.done - 1].offset;
        resolveOffset(last);
        await consumer.commitOffsets([{
          topic,
          partition,
          offset: (BigInt(last) + 1n).toString(),
        }]);
        i += out.done;
      }
      if (out.park !== undefined) {
        parked.set(key, out.park);
        pause();
        return;
      }
      if (out.waitMs !== undefined && out.waitMs > 0) {
        // Pause only this partition: the rest keep flowing and the consumer keeps heartbeating.
        // kafkajs fetches the unresolved records again after the resume.
        const resume = pause();
        const timer = setTimeout(() => {
          resumeTimers.delete(timer);
          if (!stopping) resume();
        }, out.waitMs);
        resumeTimers.add(timer);
        return;
      }
      await heartbeat();
    }
  };

  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: opts.partitions,
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
  log.info("consuming", { group: service.group, topics: service.topics });

  return {
    crashed,
    state: () =>
      crashedForGood ? "crashed" : stopping ? "stopped" : parked.size > 0 ? "failing" : "running",
    async stop() {
      stopping = true;
      for (const t of resumeTimers) clearTimeout(t);
      // The runs in hand finish and commit their offsets before the consumer leaves the group.
      await Promise.allSettled([...inFlight]);
      await consumer.disconnect();
      await producer.disconnect();
      log.info("consumer stopped", { group: service.group });
    },
  };
}
