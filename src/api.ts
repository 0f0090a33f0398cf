/** The API process: `deno task api`. Needs AUTH_JWT_SECRET. */
import { createApp, registerApiGauges } from "./app.ts";
import { apiReadiness } from "./readiness.ts";
import { config } from "./platform/config.ts";
import { connect } from "./platform/db.ts";
import { logger, setLogLevel } from "./platform/log.ts";
import { refreshDbGauges } from "./platform/metrics.ts";
import { retentionJobs, scheduleRetention } from "./platform/retention.ts";

const cfg = config();
setLogLevel(cfg.logLevel);
const log = logger("api");
if (!cfg.authJwtSecret) {
  console.error("AUTH_JWT_SECRET is required for the API: a string of at least 32 characters");
  Deno.exit(78);
}
// 8 connections measured best on 2 cores under 64 concurrent clients (FCFS route: pool 4 3.1k/s,
// 8 3.7k/s, 16 3.4k/s, 32 3.3k/s): more backends only contend for the same cores.
const sql = connect(cfg.databaseUrl, { max: 8, applicationName: "api" });
const readiness = apiReadiness(cfg, sql);
const app = createApp({
  sql,
  jwtSecret: cfg.authJwtSecret,
  log,
  checks: readiness.checks,
  orderDeadlineMs: cfg.orderDeadlineMs,
});
// The database gauges of GET /metrics are read in the background over one connection of their
// own, so scrapes cost no query and the refreshes never take a connection from the pool above.
const gaugeSql = connect(cfg.databaseUrl, { max: 1, applicationName: "api-gauges" });
registerApiGauges(gaugeSql);
const gauges = refreshDbGauges({ intervalMs: 5000, log });
const server = Deno.serve({
  port: cfg.port,
  hostname: "0.0.0.0",
  onListen: ({ port }) => log.info("listening", { port }),
}, app.fetch);

const stopRetention = scheduleRetention([
  retentionJobs.outbox(sql, cfg.outboxRetentionHours),
  retentionJobs.idempotencyKeys(sql, cfg.outboxRetentionHours),
], log);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  log.info("shutting down: draining requests");
  stopRetention();
  gauges.stop();
  await server.shutdown();
  await readiness.close();
  await Promise.all([sql.end({ timeout: 5 }), gaugeSql.end({ timeout: 5 })]);
  log.info("stopped");
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
await server.finished;
