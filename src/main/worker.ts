/**
 * `deno task worker <name> [<name> ...]`: runs one service's consumer group (or several: see
 * below) in this process until SIGINT or SIGTERM (then: stop fetching, finish the records in
 * hand, commit, disconnect). A consumer crash kafkajs will not restart exits non-zero, so a
 * supervisor restarts the process.
 * With WORKER_INSTANCE=<i> the consumer is the static member `<group>-<i>` of its group: a
 * restart (same index) takes its partitions back without a rebalance; another live process with
 * the same index fences this one, which exits 78 (a configuration error) instead of restarting.
 */
import { config } from "../platform/config.ts";
import { connect, databaseUrlAs, type Sql } from "../platform/db.ts";
import { isFencedInstance, kafkaAccess, kafkaClient } from "../platform/kafka.ts";
import { workerPrincipal } from "../kafka_acls.ts";
import { logger, setLogLevel } from "../platform/log.ts";
import { type RunningService, runService } from "../platform/consumer.ts";
import { retentionJobs, scheduleRetention } from "../platform/retention.ts";
import { serveOps } from "../platform/ops_server.ts";
import { repeat } from "../platform/repeat.ts";
import { groupLag } from "../platform/lag.ts";
import { consumerLag } from "../platform/metrics.ts";
import { SERVICES, WORKER_PORTS, WORKERS } from "../workers.ts";
import { probeWaiter } from "../platform/probe_waiter.ts";

// One service, or several in one process (`deno task worker inventory payment`): each keeps its
// own database pool and role, Kafka client and principal, consumer group and jobs; they share the
// runtime and one ops port. Several need the local stack's per-role passwords (the environment
// holds one role's).
const names = Deno.args.length > 0 ? [...new Set(Deno.args)] : [""];
const unknown = names.filter((n) => !SERVICES[n]);
if (unknown.length > 0) {
  console.error(
    `Cannot start worker ${JSON.stringify(unknown[0])}: expected one or more of ${
      WORKERS.join(", ")
    }`,
  );
  Deno.exit(64);
}
const cfg = config();
setLogLevel(cfg.logLevel);
if (
  names.length > 1 &&
  (cfg.databasePassword !== undefined || cfg.kafkaUsername !== undefined)
) {
  console.error(
    "Cannot run several services in one worker process with DATABASE_PASSWORD or " +
      "KAFKA_USERNAME set: those are one service's; run a process per service",
  );
  Deno.exit(64);
}
const log = logger("worker", { service: names.join(",") });

/** One service's consumer, jobs and probes in this process. */
interface ServiceRun {
  name: string;
  sql: Sql;
  state(): ReturnType<RunningService["state"]>;
  stop(): Promise<void>;
}

// A stop before every service has started (one crashed for good while another was still
// starting) just exits, and a supervisor starts the process again.
let started = false;
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  log.info("shutting down");
  if (started) {
    await Promise.all(runs.map((r) => r.stop()));
    await ops.shutdown();
  }
  Deno.exit(code);
};

async function startService(name: string): Promise<ServiceRun> {
  const service = SERVICES[name];
  const slog = names.length > 1 ? log.child({ service: name }) : log;
  const sql = connect(databaseUrlAs(cfg.databaseUrl, service.role, cfg.databasePassword), {
    max: cfg.topicPartitions + 1,
    applicationName: name,
  });
  const kafka = kafkaClient(kafkaAccess(cfg, workerPrincipal(service.group)), name);
  const admin = kafka.admin();
  await admin.connect();
  // A partition paused on an unreachable dependency resumes once these answer (every 250 ms).
  const probes = probeWaiter({
    database: () => sql`select 1`,
    kafka: () => admin.describeCluster(),
  }, {
    onRecovered: (dependency, waitedMs) =>
      slog.info("dependency answers again", { dependency, waitedMs }),
  });
  // A stable index makes a static member; none (the default) a dynamic one, as before.
  const instanceId = cfg.workerInstance === undefined
    ? undefined
    : `${service.group}-${cfg.workerInstance}`;
  const startConsumer = () =>
    runService(service, {
      sql,
      kafka,
      log: slog,
      probes,
      partitions: cfg.topicPartitions,
      instanceId,
    });
  let running = await startConsumer();
  // The service's periodic jobs (deadline sweeps); safe with several instances of the service.
  const stopJobs = (service.jobs?.(sql, cfg, slog) ?? []).map((job) => repeat(job, slog));
  const stopRetention = scheduleRetention(
    [retentionJobs.inbox(sql, service.group, cfg.inboxRetentionHours)],
    slog,
  );
  const probeLag = async () => {
    try {
      for (const p of await groupLag(admin, service.group, service.topics)) {
        consumerLag.set(
          { group: service.group, topic: p.topic, partition: String(p.partition) },
          p.lag,
        );
      }
    } catch (err) {
      slog.debug("lag probe failed", { error: err });
    }
  };
  probeLag();
  const lagTimer = setInterval(probeLag, 5000);

  // A crash kafkajs will not restart (e.g. "the coordinator is not aware of this member" after a
  // broker restart): start a fresh consumer, which rejoins the group and resumes from the last
  // committed offset. More than 5 such crashes in 5 minutes: exit 1 for a supervisor.
  const crashes: number[] = [];
  const watch = (r: RunningService) => {
    r.crashed.catch(async (err) => {
      if (stopping) return;
      // Another process runs with this WORKER_INSTANCE: a new consumer here would take the id
      // back and fence that one in turn. Stop for good; two replicas with one index is a
      // configuration error.
      if (isFencedInstance(err)) {
        slog.error("fenced: another process consumes as this static member; exiting", {
          error: err,
          instanceId,
        });
        return stop(78);
      }
      const now = Date.now();
      crashes.push(now);
      while (crashes.length && crashes[0] < now - 300_000) crashes.shift();
      if (crashes.length > 5) {
        slog.error("consumer keeps crashing; exiting so a supervisor restarts us", {
          error: err,
        });
        return stop(1);
      }
      slog.warn("consumer crashed; starting a new one", {
        error: err,
        recentCrashes: crashes.length,
      });
      await r.stop().catch(() => {});
      try {
        running = await startConsumer();
        watch(running);
      } catch (e) {
        slog.error("could not restart the consumer; exiting", { error: e });
        stop(1);
      }
    });
  };
  watch(running);

  return {
    name,
    sql,
    state: () => running.state(),
    async stop() {
      stopRetention();
      clearInterval(lagTimer);
      await Promise.all(stopJobs.map((stopJob) => stopJob()));
      probes.stop();
      await running.stop().catch((err) => slog.error("stop failed", { error: err }));
      await admin.disconnect().catch(() => {});
      await sql.end({ timeout: 5 });
    },
  };
}

const runs = await Promise.all(names.map(startService));
const ops = serveOps(cfg.workerPort ?? WORKER_PORTS[names[0]], {
  database: async () => {
    await Promise.all(runs.map((r) => r.sql`select 1`));
    return { ok: true };
  },
  consumer: () => {
    const states = runs.map((r) => r.state());
    const ok = states.every((state) => state === "running");
    const detail = runs.length === 1
      ? states[0]
      : runs.map((r, i) => `${r.name}: ${states[i]}`).join(", ");
    return Promise.resolve({ ok, detail });
  },
}, log);
started = true;
Deno.addSignalListener("SIGINT", () => stop(0));
Deno.addSignalListener("SIGTERM", () => stop(0));
