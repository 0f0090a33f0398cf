/**
 * `deno task worker <name>`: runs one service's consumer group in this process until SIGINT or
 * SIGTERM (then: stop fetching, finish the records in hand, commit, disconnect). A consumer
 * crash kafkajs will not restart exits non-zero, so a supervisor restarts the process.
 */
import { config } from "../platform/config.ts";
import { connect, databaseUrlAs } from "../platform/db.ts";
import { kafkaClient } from "../platform/kafka.ts";
import { logger, setLogLevel } from "../platform/log.ts";
import { type RunningService, runService } from "../platform/consumer.ts";
import { retentionJobs, scheduleRetention } from "../platform/retention.ts";
import { serveOps } from "../platform/ops_server.ts";
import { repeat } from "../platform/repeat.ts";
import { groupLag } from "../platform/lag.ts";
import { consumerLag } from "../platform/metrics.ts";
import { SERVICES, WORKER_PORTS, WORKERS } from "../workers.ts";

const name = Deno.args[0];
const service = SERVICES[name];
if (!service) {
  console.error(
    `Cannot start worker ${JSON.stringify(name ?? "")}: expected one of ${WORKERS.join(", ")}`,
  );
  Deno.exit(64);
}
const cfg = config();
setLogLevel(cfg.logLevel);
const log = logger("worker", { service: name });
const sql = connect(databaseUrlAs(cfg.databaseUrl, service.role, cfg.databasePassword), {
  max: cfg.topicPartitions + 1,
  applicationName: name,
});
const kafka = kafkaClient(cfg.kafkaBrokers, name);
let running = await runService(service, { sql, kafka, log, partitions: cfg.topicPartitions });
// The service's periodic jobs (deadline sweeps); safe with several instances of the service.
const stopJobs = (service.jobs?.(sql, cfg, log) ?? []).map((job) => repeat(job, log));
const stopRetention = scheduleRetention(
  [retentionJobs.inbox(sql, service.group, cfg.inboxRetentionHours)],
  log,
);
const admin = kafka.admin();
await admin.connect();
const probeLag = async () => {
  try {
    for (const p of await groupLag(admin, service.group, service.topics)) {
      consumerLag.set(
        { group: service.group, topic: p.topic, partition: String(p.partition) },
        p.lag,
      );
    }
  } catch (err) {
    log.debug("lag probe failed", { error: err });
  }
};
probeLag();
const lagTimer = setInterval(probeLag, 5000);
const ops = serveOps(cfg.workerPort ?? WORKER_PORTS[name], {
  database: async () => {
    await sql`select 1`;
    return { ok: true };
  },
  consumer: () => {
    const state = running.state();
    return Promise.resolve({ ok: state === "running", detail: state });
  },
}, log);

let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  log.info("shutting down");
  stopRetention();
  clearInterval(lagTimer);
  await Promise.all(stopJobs.map((stopJob) => stopJob()));
  await running.stop().catch((err) => log.error("stop failed", { error: err }));
  await admin.disconnect().catch(() => {});
  await ops.shutdown();
  await sql.end({ timeout: 5 });
  Deno.exit(code);
};
Deno.addSignalListener("SIGINT", () => stop(0));
Deno.addSignalListener("SIGTERM", () => stop(0));
// A crash kafkajs will not restart (e.g. "the coordinator is not aware of this member" after a
// broker restart): start a fresh consumer, which rejoins the group and resumes from the last
// committed offset. More than 5 such crashes in 5 minutes: exit 1 for a supervisor.
const crashes: number[] = [];
const watch = (r: RunningService) => {
  r.crashed.catch(async (err) => {
    if (stopping) return;
    const now = Date.now();
    crashes.push(now);
    while (crashes.length && crashes[0] < now - 300_000) crashes.shift();
    if (crashes.length > 5) {
      log.error("consumer keeps crashing; exiting so a supervisor restarts us", { error: err });
      return stop(1);
    }
    log.warn("consumer crashed; starting a new one", {
      error: err,
      recentCrashes: crashes.length,
    });
    await r.stop().catch(() => {});
    try {
      running = await runService(service, { sql, kafka, log, partitions: cfg.topicPartitions });
      watch(running);
    } catch (e) {
      log.error("could not restart the consumer; exiting", { error: e });
      stop(1);
    }
  });
};
watch(running);
