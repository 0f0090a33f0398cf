/** The API process: `deno task api`. Needs AUTH_JWT_SECRET. */
import {
  API_POOL,
  API_ROLE,
  createApp,
  createOpsApp,
  decisionNotifications,
  OPS_ROLE,
  registerApiGauges,
} from "../app.ts";
import { apiReadiness } from "../readiness.ts";
import { config } from "../platform/config.ts";
import { connect, databaseUrlAs } from "../platform/db.ts";
import { logger, setLogLevel } from "../platform/log.ts";
import { refreshDbGauges } from "../platform/metrics.ts";
import { retentionJobs, scheduleRetention } from "../platform/retention.ts";
import { RELAY_SLOT } from "../../relay/slot.ts";
import { kafkaAccess, kafkaClient } from "../platform/kafka.ts";
import { PRINCIPALS } from "../kafka_acls.ts";
import { SERVICES } from "../workers.ts";
import { watchGroupLag } from "../ops/group_lag_metrics.ts";

const cfg = config();
setLogLevel(cfg.logLevel);
const log = logger("api");
if (!cfg.authJwtSecret) {
  console.error("AUTH_JWT_SECRET is required for the API: a string of at least 32 characters");
  Deno.exit(78);
}
// 8 connections measured best on 2 cores under 64 concurrent clients (FCFS route: pool 4 3.1k/s,
// 8 3.7k/s, 16 3.4k/s, 32 3.3k/s): more backends only contend for the same cores. Its statements
// time out below the request timeout (API_POOL), so a request that timed out leaves nothing running.
const apiUrl = databaseUrlAs(cfg.databaseUrl, API_ROLE, cfg.databasePassword);
const sql = connect(apiUrl, API_POOL);
// The retention purges are no requests: their batches get a connection of their own, without the
// requests' statement timeout (a large backlog's batch may take longer).
const retentionSql = connect(apiUrl, { max: 1, applicationName: "api-retention" });
// The ops console and the gauges read every service's tables: a read-only role of their own, so
// the routes' role keeps only what the routes need.
const opsSql = connect(databaseUrlAs(cfg.databaseUrl, OPS_ROLE, cfg.opsDatabasePassword), {
  max: 2,
  applicationName: "api-ops",
});
// `Prefer: wait` requests are woken by notifications on one connection of its own: waiting
// requests hold none of the pool's. No statement timeout there: it only ever runs LISTEN.
const notifications = decisionNotifications(
  (handlers) => connect(apiUrl, { max: 1, applicationName: "api-listen", ...handlers }),
  log,
);
const readiness = apiReadiness(cfg, sql, { log });
const app = createApp({
  sql,
  opsSql,
  jwtSecret: cfg.authJwtSecret,
  jwt: {
    maxLifetimeS: cfg.authJwtMaxLifetimeS,
    issuer: cfg.authJwtIssuer,
    audience: cfg.authJwtAudience,
  },
  log,
  checks: readiness.checks,
  reported: readiness.reported,
  orderDeadlineMs: cfg.orderDeadlineMs,
  walletMaxBalance: cfg.walletMaxBalance,
  topicRetentionHours: cfg.topicRetentionHours,
  notifications,
});
// The database gauges of GET /metrics are read in the background over one connection of their
// own, so scrapes cost no query and the refreshes never take a connection from the pool above.
registerApiGauges(opsSql, { orderDeadlineMs: cfg.orderDeadlineMs });
const gauges = refreshDbGauges({ intervalMs: 5000, log });
// Every group's lag from Kafka, so a group whose workers are all down still shows its lag (their
// own `consumer_lag` goes with them). An admin client of its own: no retries, a failed read is
// tried again on the next round.
const lagAdmin = kafkaClient(kafkaAccess(cfg, PRINCIPALS.ops), "api-group-lag", {
  silent: true,
  retries: 0,
}).admin();
const groupLag = watchGroupLag(lagAdmin, Object.values(SERVICES), { intervalMs: 5000, log });
const server = Deno.serve({
  port: cfg.port,
  hostname: "0.0.0.0",
  onListen: ({ port }) => log.info("listening", { port }),
}, app.fetch);
// Metrics (and health again) on the internal ops port, as on every worker: a scraper's port, never
// published beyond the host (compose binds it to 127.0.0.1).
const opsServer = Deno.serve({
  port: cfg.apiOpsPort,
  hostname: "0.0.0.0",
  onListen: ({ port }) => log.info("ops endpoints listening", { port }),
}, createOpsApp(app).fetch);

const stopRetention = scheduleRetention([
  retentionJobs.outbox(retentionSql, cfg.outboxRetentionHours, RELAY_SLOT),
  retentionJobs.idempotencyKeys(retentionSql, cfg.outboxRetentionHours),
], log);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  log.info("shutting down: draining requests");
  stopRetention();
  gauges.stop();
  groupLag.stop();
  // Requests waiting on `Prefer: wait` answer now, as they find their rows, instead of holding
  // the drain for up to 30 s.
  notifications.drain();
  await Promise.all([server.shutdown(), opsServer.shutdown()]);
  await readiness.close();
  await lagAdmin.disconnect().catch(() => {});
  await Promise.all([
    sql.end({ timeout: 5 }),
    opsSql.end({ timeout: 5 }),
    retentionSql.end({ timeout: 5 }),
    notifications.close(),
  ]);
  log.info("stopped");
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
await server.finished;
