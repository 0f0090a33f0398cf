/**
 * The console's data: one JSON snapshot of the relay, the consumer groups, orders, FCFS and dead
 * letters, read by the API itself (Connect REST, Kafka admin, Postgres) plus, when configured,
 * the workers' ops ports (retries). Each section fails on its own (a stopped Kafka blanks lag,
 * not the orders), and snapshots are shared for half a second so many open pages cost one read.
 * Rates (events/s, records/s) are the difference between this snapshot and the previous one.
 */
import type { Sql } from "../platform/db.ts";
import { type Admin, type Kafka, type KafkaAccess, kafkaClient } from "../platform/kafka.ts";
import type { Logger } from "../platform/log.ts";
import { AGGREGATE_TYPES, dlqTopicFor, topicFor } from "../events/topics.ts";
import { connectorStatus } from "../../relay/register.ts";
import { SERVICES } from "../workers.ts";
import {
  commitToConsumeP99,
  deadLettersByGroup,
  type OrderState,
  orderState,
  type SlotState,
  slotState,
} from "./db_state.ts";
import { groupLag, type PartitionLag, topicEnds, totalEnd } from "../platform/lag.ts";
import { DeadLetterCache, type TopicDeadLetters } from "./dead_letters.ts";
import { scrapeWorker, type WorkerCounters } from "./worker_scrape.ts";

export interface OpsOptions {
  sql: Sql;
  log: Logger;
  /** Kafka and the ops console's login (principal `ops`: src/kafka_acls.ts). */
  kafka: KafkaAccess;
  connectUrl: string;
  /** Worker ops URLs by worker name (WORKER_OPS_URLS); may be empty. */
  workerOpsUrls: Record<string, string>;
  connector?: string;
}

type Section<T> = { ok: true; data: T } | { ok: false; error: string };

export interface GroupState {
  group: string;
  topics: string[];
  partitions: PartitionLag[];
  lag: number;
  recordsPerSecond: number | null;
  commitToConsumeP99Seconds: number | null;
  deadLettered: number;
  worker: WorkerCounters | null;
}

export interface Snapshot {
  at: string;
  relay: {
    connector: Section<{ state: string; tasks: { id: number; state: string }[] } | null>;
    slots: Section<SlotState[]>;
    eventsPerSecond: number | null;
  };
  groups: Section<GroupState[]>;
  orders: Section<OrderState>;
  deadLetters: Section<TopicDeadLetters[]>;
}

const TOPICS = AGGREGATE_TYPES.map(topicFor);
const DLQ_TOPICS = TOPICS.map(dlqTopicFor);

async function section<T>(f: () => Promise<T>): Promise<Section<T>> {
  try {
    return { ok: true, data: await f() };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

export class OpsCollector {
  readonly kafka: Kafka;
  readonly deadLetters: DeadLetterCache;
  #admin: Admin;
  #connected: Promise<void> | undefined;
  #last: { at: number; promise: Promise<Snapshot> } | undefined;
  #previous: { at: number; relayEnd: number; committed: Record<string, number> } | undefined;

  constructor(private opts: OpsOptions) {
    this.kafka = kafkaClient(opts.kafka, "api-ops", {
      silent: true,
      retries: 1,
    });
    this.#admin = this.kafka.admin();
    this.deadLetters = new DeadLetterCache(this.kafka, opts.sql, opts.log);
  }

  async #adminReady(): Promise<Admin> {
    this.#connected ??= this.#admin.connect();
    try {
      await this.#connected;
    } catch (err) {
      this.#connected = undefined; // the next snapshot tries again
      throw err;
    }
    return this.#admin;
  }

  /** The current snapshot; at most two are read per second, however many pages ask. */
  snapshot(): Promise<Snapshot> {
    const now = performance.now();
    if (!this.#last || now - this.#last.at >= 500) {
      this.#last = { at: now, promise: this.#read() };
    }
    return this.#last.promise;
  }

  async #read(): Promise<Snapshot> {
    const { sql } = this.opts;
    const at = performance.now();
    const ends = await section(async () =>
      await topicEnds(await this.#adminReady(), [...TOPICS, ...DLQ_TOPICS])
    );
    if (!ends.ok) this.#connected = undefined;
    const relayEnd = ends.ok ? totalEnd(ends.data, TOPICS) : undefined;
    const prev = this.#previous;
    const dt = prev ? (at - prev.at) / 1000 : 0;
    const rate = (now: number | undefined, before: number | undefined) =>
      now !== undefined && before !== undefined && dt > 0 ? Math.max(0, now - before) / dt : null;

    const [connector, slots, groups, orders, deadLetters] = await Promise.all([
      section(async () => {
        const s = await connectorStatus(this.opts.connectUrl, this.opts.connector ?? "shop-outbox");
        return s
          ? { state: s.connector.state, tasks: s.tasks.map((t) => ({ id: t.id, state: t.state })) }
          : null;
      }),
      section(() => slotState(sql)),
      section(async () => {
        if (!ends.ok) throw new Error(`Kafka: ${ends.error}`);
        const admin = await this.#adminReady();
        const dead = await deadLettersByGroup(sql).catch(() => ({} as Record<string, number>));
        return await Promise.all(
          Object.values(SERVICES).map(async (s) => {
            const partitions = await groupLag(admin, s.group, s.topics, ends.data);
            const committed = partitions.reduce((a, p) => a + p.committed, 0);
            const workerUrl = this.opts.workerOpsUrls[s.group];
            const [p99, worker] = await Promise.all([
              commitToConsumeP99(sql, s.group).catch(() => null),
              workerUrl ? scrapeWorker(workerUrl, s.group) : Promise.resolve(null),
            ]);
            return {
              group: s.group,
              topics: s.topics,
              partitions,
              lag: partitions.reduce((a, p) => a + p.lag, 0),
              recordsPerSecond: rate(committed, prev?.committed[s.group]),
              commitToConsumeP99Seconds: p99,
              deadLettered: dead[s.group] ?? 0,
              worker,
            } satisfies GroupState;
          }),
        );
      }),
      section(() => orderState(sql)),
      section(async () => {
        if (!ends.ok) throw new Error(`Kafka: ${ends.error}`);
        return await this.deadLetters.view(DLQ_TOPICS, ends.data);
      }),
    ]);
    if (relayEnd !== undefined && groups.ok) {
      this.#previous = {
        at,
        relayEnd,
        committed: Object.fromEntries(
          groups.data.map((g) => [g.group, g.partitions.reduce((a, p) => a + p.committed, 0)]),
        ),
      };
    }
    return {
      at: new Date().toISOString(),
      relay: { connector, slots, eventsPerSecond: rate(relayEnd, prev?.relayEnd) },
      groups,
      orders,
      deadLetters,
    };
  }

  async close(): Promise<void> {
    if (this.#connected) await this.#admin.disconnect().catch(() => {});
  }
}
