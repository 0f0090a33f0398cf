/**
 * `deno task test:faults [name filter ...]`: under a steady mixed load (orders + FCFS) through
 * the real API, one fault at a time:
 * - process kills (SIGKILL, then restart): a worker, the API, Kafka Connect, the Kafka broker;
 *   a PostgreSQL fast restart, and a SIGKILL of the postmaster (crash recovery);
 * - network faults through a host name and a TCP proxy of this runner's own, by which the API and
 *   the workers reach Postgres: the name stops resolving, the database hangs (connections open,
 *   nothing answers); Kafka stops answering (the broker paused);
 * - the saga's deadlines: a participant down past ORDER_DEADLINE_MS, a step dead-lettered.
 * After each, once quiet: every accepted request is terminal (lost), no order ended later than
 * its deadline plus the fault's length (stuck), the invariants hold and no effect is doubled;
 * duplicates delivered, dead letters and the recovery time are recorded (tests/faults/harness.ts).
 * Prints the table and writes it to results/. Exits 1 if a row has lost, duplicate effects, stuck
 * or unexpected dead letters > 0, or a fault's own check failed.
 * Edits /etc/hosts (adds, then removes, one line naming 127.0.0.1): run as root.
 */
import { components } from "../../stack/components.ts";
import { registerConnector } from "../../relay/register.ts";
import { parseConfig } from "../../src/platform/config.ts";
import { connect } from "../../src/platform/db.ts";
import { kafkaAccess, kafkaClient } from "../../src/platform/kafka.ts";
import { PRINCIPALS } from "../../src/kafka_acls.ts";
import { setLogLevel } from "../../src/platform/log.ts";
import { topicFor } from "../../src/events/topics.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { type ApiProcess, startApiProcess } from "../helpers/api_process.ts";
import { Workers } from "../helpers/workers.ts";
import {
  type Fault,
  pause,
  relayBack as relayBackOf,
  relayRunning as relayRunningAt,
  report,
  runFaults,
} from "./harness.ts";
import { issueToken } from "../../src/platform/http/auth.ts";
import { JWT_SECRET } from "../helpers/api.ts";
import { tcpProxy } from "../helpers/tcp_proxy.ts";
import { findDeadLetter, replayDeadLetters } from "../../src/ops/dlq.ts";
import { WORKERS } from "../../src/workers.ts";
import { STATIC_SESSION_TIMEOUT_MS } from "../../src/platform/consumer.ts";

setLogLevel("error");
const cfg = parseConfig(Deno.env.toObject());
const sql = connect(cfg.databaseUrl, { max: 2, applicationName: "faults" });
const kafka = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "faults", { silent: true });

/** Short enough that the deadline rows fit in CI; outages longer than it time orders out. */
const ORDER_DEADLINE_MS = 8000;
/**
 * Slack of the stuck check: the sweep's cadence (1 s), one connect timeout (5 s) while the pools
 * reconnect after the fault, and a decision's own latency.
 */
const STUCK_SLACK_MS = 10_000;
/**
 * The database hang row: the consumer groups are checked past the workers' session timeout (a
 * member that stopped heartbeating would be gone by then), and the hang lasts a little longer:
 * checked at 12 s, 20 s in all with the 10 s session.
 */
const GROUP_CHECK_MS = STATIC_SESSION_TIMEOUT_MS + 2_000;
const HANG_MS = Math.max(20_000, GROUP_CHECK_MS + 3_000);

// The API and the workers reach Postgres by a name this runner controls, through its proxy.
// Named after this process, so two runs on one machine (each with its own stack) never remove
// each other's line.
const DB_HOST = `shop-db-${Deno.pid}.faults.internal`;
const HOSTS_LINE = `127.0.0.1 ${DB_HOST} # tests/faults/run.ts`;
async function setDbResolvable(on: boolean): Promise<void> {
  const lines = (await Deno.readTextFile("/etc/hosts")).split("\n")
    .filter((l) => l !== HOSTS_LINE && l !== "");
  if (on) lines.push(HOSTS_LINE);
  await Deno.writeTextFile("/etc/hosts", lines.join("\n") + "\n");
}
await setDbResolvable(true);
const pgUrl = new URL(cfg.databaseUrl);
const proxy = tcpProxy({ hostname: pgUrl.hostname, port: Number(pgUrl.port || 5432) });
const viaProxy = new URL(cfg.databaseUrl);
viaProxy.hostname = DB_HOST;
viaProxy.port = String(proxy.port);
const systemEnv = {
  DATABASE_URL: viaProxy.toString(),
  ORDER_DEADLINE_MS: String(ORDER_DEADLINE_MS),
};
const startApi = () => startApiProcess({ env: systemEnv });
const workers = new Workers(systemEnv);
let api: ApiProcess = await startApi();
await workers.start();

const relayRunning = () => relayRunningAt(cfg.kafkaConnectUrl);
const relayBack = (notes: string[], what: string) => relayBackOf(cfg, notes, what);

/** Status and milliseconds of an authenticated GET through the API (aborted after 10 s). */
async function probeApi(path: string): Promise<{ status: number; ms: number; type: string }> {
  const token = issueToken(JWT_SECRET, "faults-probe");
  const started = performance.now();
  const res = await fetch(`${api.url}${path}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10_000),
  }).catch(() => undefined);
  await res?.body?.cancel();
  return {
    status: res?.status ?? 0,
    ms: Math.round(performance.now() - started),
    type: res?.headers.get("content-type") ?? "",
  };
}

/** A worker's counter (sum over the samples whose line contains `labels`). */
async function workerCounter(worker: string, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${workers.port(worker)}/metrics`)).text();
  return text.split("\n").filter((l) => l.startsWith(name) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

const FAULTS: Fault[] = [
  {
    name: "worker (inventory) SIGKILL",
    inject: async (_notes, { back }) => {
      await workers.stop("inventory", { kill: true });
      await pause(3000);
      await workers.start("inventory");
      back("the restarted worker ready");
    },
  },
  {
    // A planned restart (a deploy): the worker finishes its runs, commits and stops, and its
    // successor starts at once.
    name: "worker (inventory) SIGTERM, restarted at once",
    inject: async (_notes, { back }) => {
      await workers.stop("inventory");
      await workers.start("inventory");
      back("the restarted worker ready");
    },
  },
  {
    name: "API SIGKILL",
    inject: async (_notes, { back }) => {
      await api.stop({ kill: true });
      await pause(3000);
      api = await startApi();
      back("the restarted API live");
    },
  },
  {
    name: "Kafka Connect SIGKILL",
    inject: async (_notes, { back }) => {
      await components.connect.stop({ kill: true });
      await pause(3000);
      await components.connect.start();
      await waitFor(relayRunning, { timeoutMs: 120_000, what: "the relay to run again" });
      back("the connector task RUNNING");
    },
  },
  {
    name: "Kafka broker SIGKILL",
    inject: async (notes, { back }) => {
      await components.kafka.stop({ kill: true });
      await pause(3000);
      await components.kafka.start();
      back("the restarted broker answering");
      const ok = await waitFor(relayRunning, { timeoutMs: 60_000, what: "the relay" }).catch(() =>
        false
      );
      if (!ok) {
        notes.push("connector task FAILED after the broker restart; restarted by relay:register");
        await registerConnector(cfg);
      }
    },
  },
  {
    name: "PostgreSQL restart (fast)",
    inject: async (notes, { back }) => {
      await components.postgres.stop();
      try {
        await checkPostgresDown(notes);
      } finally {
        await pause(3000);
        await components.postgres.start();
        back("Postgres accepting connections");
      }
      await relayBack(notes, "the Postgres restart");
    },
  },
  {
    name: "PostgreSQL SIGKILL (postmaster), 10 s down",
    inject: async (notes, { back }) => {
      await components.postgres.stop({ kill: true });
      const down = Date.now();
      try {
        await checkPostgresDown(notes);
      } finally {
        await pause(Math.max(0, 10_000 - (Date.now() - down)));
        // Orphaned backends exit once they notice the postmaster is gone; until then a new
        // postmaster refuses the shared memory they hold.
        await waitFor(() => components.postgres.start().then(() => true, () => false), {
          timeoutMs: 60_000,
          intervalMs: 1000,
          what: "postgres to start after the crash",
        });
        back("Postgres accepting connections");
      }
      notes.push("crash recovery: started after SIGKILL");
      await relayBack(notes, "the Postgres crash");
    },
  },
  {
    name: "database host name unresolvable, 20 s",
    inject: async (notes, { back }) => {
      await setDbResolvable(false);
      proxy.drop(); // every connection must be made again, through the name
      try {
        const p = await probeApi("/wallet");
        notes.push(`GET /wallet while the name does not resolve: ${p.status} in ${p.ms} ms`);
        if (p.status !== 503) throw new Error(`expected 503 while unresolvable, got ${p.status}`);
        await pause(20_000 - p.ms);
      } finally {
        await setDbResolvable(true);
        back("the name resolving again");
      }
    },
  },
  {
    name: `database hangs (proxy holds every byte), ${HANG_MS / 1000} s`,
    inject: async (notes, { back }) => {
      proxy.freeze();
      const started = Date.now();
      try {
        const p = await probeApi("/wallet");
        notes.push(`GET /wallet while the database hangs: ${p.status} in ${p.ms} ms`);
        if (p.status !== 503 || !p.type.includes("problem+json") || p.ms > 7000) {
          throw new Error(
            `expected 503 problem+json within the API's 5 s timeout, got ${p.status} in ${p.ms} ms`,
          );
        }
        // Past the session timeout: members that stopped heartbeating would be gone. The workers
        // are static members (tests/helpers/workers.ts), whose session is the longer one.
        await pause(Math.max(0, GROUP_CHECK_MS - (Date.now() - started)));
        const admin = kafka.admin();
        await admin.connect();
        try {
          const { groups } = await admin.describeGroups(WORKERS);
          const summary = groups.map((g) => `${g.groupId} ${g.state}/${g.members.length}`);
          notes.push(
            `groups after ${GROUP_CHECK_MS / 1000} s of a hung database: ${summary.join(", ")}`,
          );
          if (groups.some((g) => g.state !== "Stable" || g.members.length !== 1)) {
            throw new Error(
              `a consumer group lost its member while waiting: ${summary.join(", ")}`,
            );
          }
        } finally {
          await admin.disconnect();
        }
        await pause(Math.max(0, HANG_MS - (Date.now() - started)));
      } finally {
        proxy.thaw();
        back("the database answering again");
      }
    },
  },
  {
    name: "Kafka unreachable (broker paused), 60 s",
    inject: async (notes, { back }) => {
      const pid = await components.kafka.pid();
      if (!pid) throw new Error("no Kafka broker process");
      Deno.kill(pid, "SIGSTOP");
      try {
        await checkReadyWithoutKafka(notes);
        await pause(60_000 - 15_000);
      } finally {
        Deno.kill(pid, "SIGCONT");
        back("the broker running again");
      }
      await relayBack(notes, "the broker pause");
    },
  },
  {
    name: `payment down past the deadline (2 x ${ORDER_DEADLINE_MS / 1000} s)`,
    inject: async (notes, { back }) => {
      const expiredBefore = 0; // a fresh process counts from zero
      await workers.stop("payment");
      await pause(2 * ORDER_DEADLINE_MS);
      await workers.start("payment");
      back("payment ready");
      await waitFor(
        async () =>
          (await workerCounter("payment", "consumer_late_events_total", 'why="expired"')) >
            expiredBefore,
        { timeoutMs: 60_000, what: "payment to skip orders past their deadline" },
      );
      const skipped = await workerCounter("payment", "consumer_late_events_total", 'why="expired"');
      notes.push(`payment, started again, skipped ${skipped} OrderCreated past their deadline`);
    },
  },
  {
    name: "a poisoned step (one OrderCreated dead-lettered)",
    expectedDeadLetters: 1,
    inject: async (notes, { driver }) => {
      const user = `${driver.tag}-poisoned`;
      driver.fixture.userIds.push(user);
      const token = issueToken(JWT_SECRET, user);
      const post = (path: string, body: unknown) =>
        fetch(`${api.url}${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        }).then((r) => r.json());
      await post("/wallet/charges", { amount: 100_000 });
      // Payment's insert for this user fails as bad data (P0001): its OrderCreated is
      // dead-lettered; the cancellation's row still passes.
      const fn = `faults_poison_${driver.tag}`;
      await sql.unsafe(`
        create function ${fn}() returns trigger language plpgsql as $$
        begin raise exception 'poisoned by the fault suite'; end $$`);
      await sql.unsafe(`
        create trigger ${fn} before insert on payments for each row
        when (new.user_id = '${user}' and new.status <> 'CANCELLED') execute function ${fn}()`);
      try {
        const { orderId } = await post("/orders", {
          items: [{ productId: driver.fixture.productIds[0], quantity: 1 }],
        });
        driver.ledger.orders.push(orderId);
        const [o] = await waitFor(async () => {
          const rows = await sql`select status, cancel_reason from orders where id = ${orderId}`;
          return rows[0]?.status !== "PENDING" ? rows : undefined;
        }, { timeoutMs: 60_000, what: "the poisoned order to settle" });
        notes.push(`the poisoned order ended ${o.status} ${o.cancel_reason ?? ""}`.trim());
        if (o.cancel_reason !== "TIMEOUT") throw new Error("the poisoned order did not time out");
        const letter = await waitFor(
          () =>
            findDeadLetter(
              kafka,
              topicFor("order"),
              (d) => d.group === "payment" && d.record.value?.toString().includes(orderId) === true,
            ),
          { timeoutMs: 60_000, what: "the dead letter" },
        );
        await sql.unsafe(`drop trigger ${fn} on payments`);
        const lateBefore = await workerCounter(
          "payment",
          "consumer_late_events_total",
          'why="decided"',
        );
        await replayDeadLetters(sql, [letter], "faults");
        await waitFor(
          async () =>
            (await workerCounter("payment", "consumer_late_events_total", 'why="decided"')) >
              lateBefore,
          { timeoutMs: 60_000, what: "the replay, a counted no-op" },
        );
        const [w] = await sql`select balance from wallets where user_id = ${user}`;
        notes.push(`replayed the dead letter: a no-op, balance ${w.balance} of 100000`);
        if (Number(w.balance) !== 100_000) throw new Error("the replay changed the balance");
      } finally {
        await sql.unsafe(`drop trigger if exists ${fn} on payments`);
        await sql.unsafe(`drop function if exists ${fn}()`);
      }
    },
  },
];

/**
 * While the broker is paused: the API stays ready (readiness is Postgres alone), reports Kafka as
 * unreachable beside it, and accepts orders. Takes 15 s of the pause.
 */
async function checkReadyWithoutKafka(notes: string[]): Promise<void> {
  const started = Date.now();
  const seen = await waitFor(async () => {
    const r = await fetch(`${api.url}/health/ready`);
    const body = await r.json();
    return ["down", "timeout"].includes(body.reported?.kafka?.status)
      ? { status: r.status, body }
      : undefined;
  }, { timeoutMs: 15_000, what: "the API to report Kafka unreachable" });
  notes.push(
    `API readiness with the broker paused: ${seen.status}, Kafka reported ${seen.body.reported.kafka.status}`,
  );
  if (seen.status !== 200) {
    throw new Error(`the API left service while only Kafka was away: ${JSON.stringify(seen.body)}`);
  }
  await pause(Math.max(0, 15_000 - (Date.now() - started)));
}

/** While Postgres is down: 503 problem+json with Retry-After, and readiness says so. */
async function checkPostgresDown(notes: string[]): Promise<void> {
  const token = issueToken(JWT_SECRET, "faults-probe");
  const down = await fetch(`${api.url}/wallet`, { headers: { authorization: `Bearer ${token}` } });
  const problem = await down.json();
  const type = down.headers.get("content-type") ?? "";
  const retry = down.headers.get("retry-after");
  notes.push(`GET /wallet while Postgres is down: ${down.status} ${type}, Retry-After ${retry}`);
  if (down.status !== 503 || !type.includes("problem+json") || !retry || problem.status !== 503) {
    throw new Error(
      "the API did not answer 503 problem+json with Retry-After while Postgres was down",
    );
  }
  const ready = await fetch(`${api.url}/health/ready`);
  const body = await ready.json();
  notes.push(
    `API ready while Postgres is down: ${ready.status} (${body.checks?.database?.status})`,
  );
  if (ready.status !== 503 || ready.headers.get("retry-after") === null) {
    throw new Error("readiness did not report Postgres down");
  }
  // A state, not the driver's message (it names the host and port it could not reach).
  const db = body.checks?.database;
  if (!["down", "timeout"].includes(db?.status) || db?.detail !== undefined) {
    throw new Error(`readiness reported Postgres as ${JSON.stringify(db)}, not a bare state`);
  }
}

const results = await runFaults({
  faults: FAULTS,
  only: Deno.args,
  sql,
  kafka,
  apiUrl: () => api.url,
  stuckSlackMs: STUCK_SLACK_MS,
});

await workers.stopAll();
await api.stop();
await sql.end();
await proxy.close();
await setDbResolvable(false);
Deno.exit(await report("faults", results, ORDER_DEADLINE_MS));
