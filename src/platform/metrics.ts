/** Prometheus metrics of this process (prom-client), served at GET /metrics. */
import client from "prom-client";
import type { Sql } from "./db.ts";
import type { Logger } from "./log.ts";
import { everyRound, type Rounds } from "./rounds.ts";

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

export const httpRequests = new client.Counter({
  name: "http_requests_total",
  help: "HTTP requests by method, route pattern and status",
  labelNames: ["method", "route", "status"] as const,
  registers: [registry],
});

export const httpDuration = new client.Histogram({
  name: "http_request_duration_seconds",
  help: "HTTP request latency by method and route pattern",
  labelNames: ["method", "route"] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

/** The text exposition of every metric. */
export async function metricsText(): Promise<{ body: string; contentType: string }> {
  return { body: await registry.metrics(), contentType: registry.contentType };
}

/** Per consumer group: what happened to each record, retries, dead letters, handler latency. */
export const consumerMetrics = {
  records: new client.Counter({
    name: "consumer_records_total",
    help: "Records by group, topic and outcome (applied, duplicate, skipped)",
    labelNames: ["group", "topic", "outcome"] as const,
    registers: [registry],
  }),
  retries: new client.Counter({
    name: "consumer_retries_total",
    help: "Handler retries by group and error kind",
    labelNames: ["group", "kind"] as const,
    registers: [registry],
  }),
  deadLettered: new client.Counter({
    name: "consumer_dead_lettered_total",
    help: "Records sent to a dead-letter topic",
    labelNames: ["group", "topic"] as const,
    registers: [registry],
  }),
  late: new client.Counter({
    name: "consumer_late_events_total",
    help: "Events applied as no-ops because their aggregate was decided already (e.g. a replay " +
      "after a deadline) or their deadline had passed",
    labelNames: ["group", "type", "why"] as const,
    registers: [registry],
  }),
  handlerSeconds: new client.Histogram({
    name: "consumer_handler_duration_seconds",
    help: "Time to apply one event (its share of its transaction), by group and event type",
    labelNames: ["group", "type"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  }),
};

/** Commit-to-consume: the event's creation (record timestamp) to a worker handling it. */
export const relayLatency = new client.Histogram({
  name: "relay_commit_to_consume_seconds",
  help: "Time from an event's creation (outbox insert) to a consumer group handling it",
  labelNames: ["group"] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

/** Records not yet committed by a group, per partition (high watermark - committed offset). */
export const consumerLag = new client.Gauge({
  name: "consumer_lag",
  help: "Records behind the end of the partition, per consumer group",
  labelNames: ["group", "topic", "partition"] as const,
  registers: [registry],
});

/**
 * 1 while a dependency a process can work without for a while answers, else 0 (the API's Kafka
 * and relay): an alert's input, never the process's readiness.
 */
export const dependencyUp = new client.Gauge({
  name: "dependency_up",
  help: "1 if the dependency answered its last background check, else 0",
  labelNames: ["dependency"] as const,
  registers: [registry],
});

/** Restarts of the relay's FAILED connector or tasks asked of Connect (src/readiness.ts). */
export const relayRestarts = new client.Counter({
  name: "relay_restarts_total",
  help: "Restarts of the relay's FAILED connector or tasks asked of Kafka Connect",
  registers: [registry],
});

interface DbGauge {
  name: string;
  /** The connection this gauge is read from (set by `use`); undefined until then. */
  source?: Sql;
  /** Reads fresh values into the scraped gauge. */
  refresh(): Promise<void>;
}

/** Every gauge made by `dbGauge` in this process, refreshed together by `refreshDbGauges`. */
const dbGauges: DbGauge[] = [];

/**
 * A gauge derived from the database, served from memory: `read` runs only in the background
 * refreshes of `refreshDbGauges`, never on a scrape, so however often and concurrently Prometheus
 * (or anyone) scrapes, no scrape waits on or adds to the database. Returns `use(sql)`, which
 * registers the gauge (once per process) and makes `sql` the connection it is read from.
 *
 * `read` fills a private copy of the gauge that is then swapped in at once, so a scrape never
 * sees a half-written label set, and a failed read keeps the previous values.
 */
export function dbGauge<L extends string = never>(
  spec: { name: string; help: string; labelNames?: readonly L[] },
  read: (sql: Sql, gauge: client.Gauge<L>) => Promise<void>,
): (sql: Sql) => void {
  const labelNames = spec.labelNames ?? [];
  let entry: DbGauge | undefined;
  return (sql) => {
    if (entry) {
      entry.source = sql;
      return;
    }
    const served = new client.Gauge<L>({ ...spec, labelNames, registers: [registry] });
    // Registered nowhere: only `refresh` sees it (rounds never overlap, so one copy suffices).
    const fresh = new client.Gauge<L>({ ...spec, labelNames, registers: [] });
    entry = {
      name: spec.name,
      source: sql,
      async refresh() {
        fresh.reset();
        await read(entry!.source!, fresh);
        const { values } = await fresh.get();
        // Synchronous from here on: a concurrent scrape sees the old set or the new one.
        served.reset();
        for (const v of values) served.set(v.labels as client.LabelValues<L>, v.value);
      },
    };
    dbGauges.push(entry);
  };
}

/** The background refresher of the `dbGauge` gauges; see `refreshDbGauges`. */
export type DbGaugeRefresher = Rounds;

let refreshAge: client.Gauge | undefined;

/**
 * Reads every `dbGauge` gauge now and then every `intervalMs` after the previous round ended (so
 * rounds never overlap and a slow database is not asked twice at once). The gauges' connection
 * should be their own (one connection is enough: the reads run one after another), so the
 * refreshes never take a connection from the request pool either. Also serves
 * `db_gauges_refresh_age_seconds`, the time since the last round in which every read succeeded,
 * so stale values show while the database is unreachable. Call it once per process, from main.
 */
export function refreshDbGauges(
  opts: { intervalMs?: number; log?: Logger } = {},
): DbGaugeRefresher {
  const { intervalMs = 5000, log } = opts;
  let lastSuccess: number | undefined;
  refreshAge ??= new client.Gauge({
    name: "db_gauges_refresh_age_seconds",
    help: "Seconds since the database-derived gauges were last all refreshed (NaN before that)",
    registers: [registry],
    collect() {
      this.set(lastSuccess === undefined ? NaN : (performance.now() - lastSuccess) / 1000);
    },
  });
  let failing = false;
  const round = async () => {
    const failures: string[] = [];
    for (const g of dbGauges) {
      if (!g.source) continue;
      try {
        await g.refresh();
      } catch (err) {
        failures.push(`${g.name}: ${(err as Error)?.message ?? err}`);
      }
    }
    if (failures.length === 0) lastSuccess = performance.now();
    // Logged on a change only: a database down for an hour is one line, not 720.
    if (failures.length > 0 && !failing) {
      log?.warn("database gauges not refreshed; serving the last values", { failures });
    } else if (failures.length === 0 && failing) log?.info("database gauges refreshed again");
    failing = failures.length > 0;
  };
  return everyRound(round, intervalMs);
}
