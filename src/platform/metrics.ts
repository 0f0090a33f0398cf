/** Prometheus metrics of this process (prom-client), served at GET /metrics. */
import client from "prom-client";
import type { Sql } from "./db.ts";

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
 * A gauge read from the database at scrape time. Created once per process; each `use(sql)` only
 * points it at the latest pool (tests build several apps, each with its own pool).
 */
export function dbGauge<L extends string = never>(
  spec: { name: string; help: string; labelNames?: readonly L[] },
  read: (sql: Sql, gauge: client.Gauge<L>) => Promise<void>,
): (sql: Sql) => void {
  let source: Sql | undefined;
  let created = false;
  return (sql) => {
    source = sql;
    if (created) return;
    created = true;
    new client.Gauge<L>({
      ...spec,
      labelNames: spec.labelNames ?? [],
      registers: [registry],
      async collect() {
        await read(source!, this);
      },
    });
  };
}
