/** The API process: `deno task api`. Needs AUTH_JWT_SECRET. */
import { API_ROLE, createApp, OPS_ROLE, registerApiGauges } from "../app.ts";
import { apiReadiness } from "../readiness.ts";
import { config } from "../platform/config.ts";
import { connect, databaseUrlAs } from "../platform/db.ts";
import { logger, setLogLevel } from "../platform/log.ts";
import { refreshDbGauges } from "../platform/metrics.ts";
import { retentionJobs, scheduleRetention } from "../platform/retention.ts";
import { RELAY_SLOT } from "../../relay/slot.ts";

const cfg = config();
setLogLevel(cfg.logLevel);
const log = logger("api");
if (!cfg.authJwtSecret) {
  console.error("AUTH_JWT_SECRET is required for the API: a string of at least 32 characters");
  Deno.exit(78);
}
// 8 connections measured best on 2 cores under 64 concurrent clients (FCFS route: pool 4 3.1k/s,
// 8 3.7k/s, 16 3.4k/s, 32 3.3k/s): more backends only contend for the same cores.
const sql = connect(databaseUrlAs(cfg.databaseUrl, API_ROLE, cfg.databasePassword), {
  max: 8,
  applicationName: "api",
});
// The ops console and the gauges read every service's tables: a read-only role of their own, so
// the routes' role keeps only what the routes need.
const opsSql = connect(databaseUrlAs(cfg.databaseUrl, OPS_ROLE, cfg.opsDatabasePassword), {
  max: 2,
  applicationName: "api-ops",
});
const readiness = apiReadiness(cfg, sql);
const app = createApp({
  sql,
  opsSql,
  jwtSecret: cfg.authJwtSecret,
  log,
  checks: readiness.checks,
  orderDeadlineMs: cfg.orderDeadlineMs,
});
// The database gauges of GET /metrics are read in the background over one connection of their
// own, so scrapes cost no query and the refreshes never take a connection from the pool above.
registerApiGauges(opsSql);
const gauges = refreshDbGauges({ intervalMs: 5000, log });
const server = Deno.serve({
  port: cfg.port,
  hostname: "0.0.0.0",
  onListen: ({ port }) => log.info("listening", { port }),
}, app.fetch);

const stopRetention = scheduleRetention([
  retentionJobs.outbox(sql, cfg.outboxRetentionHours, RELAY_SLOT),
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
  await Promise.all([sql.end({ timeout: 5 }), opsSql.end({ timeout: 5 })]);
  log.info("stopped");
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
await server.finished;
