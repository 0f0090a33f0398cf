/**
 * `deno task test:faults`: under a steady load through the real API, kill one process at a time
 * (SIGKILL, then restart): a worker, the API, Kafka Connect, the Kafka broker; and restart
 * PostgreSQL (fast shutdown). After each, once quiet: every accepted request is terminal, the
 * invariants hold, no effect is doubled; duplicates delivered are counted, and the recovery time
 * (fault to the first decision after it) recorded. Prints and writes the table to results/.
 * Exits 1 if any row has lost > 0 or duplicate effects > 0.
 */
import { components } from "../../stack/components.ts";
import { registerConnector } from "../../relay/register.ts";
import { parseConfig } from "../../src/platform/config.ts";
import { connect } from "../../src/platform/db.ts";
import { kafkaClient } from "../../src/platform/kafka.ts";
import { readTopic } from "../../src/platform/read_topic.ts";
import { setLogLevel } from "../../src/platform/log.ts";
import { topicFor } from "../../src/events/topics.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { type ApiProcess, startApiProcess } from "../helpers/api_process.ts";
import { violations } from "../helpers/invariants.ts";
import { Workers } from "../helpers/workers.ts";
import { LoadDriver } from "./load_driver.ts";
import { issueToken } from "../../src/platform/http/auth.ts";
import { JWT_SECRET } from "../helpers/api.ts";

setLogLevel("error");
const cfg = parseConfig(Deno.env.toObject());
const sql = connect(cfg.databaseUrl, { max: 2, applicationName: "faults" });
const kafka = kafkaClient(cfg.kafkaBrokers, "faults", { silent: true });
const workers = new Workers();
let api: ApiProcess = await startApiProcess();
await workers.start();

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms)); // load pacing, not a sync point

interface Row {
  fault: string;
  accepted: number;
  terminal: number;
  lost: number;
  duplicatesDelivered: number;
  duplicateEffects: number;
  recoverySeconds: number;
  notes: string[];
}

const relayRunning = async () => {
  const r = await fetch(`${cfg.kafkaConnectUrl}/connectors/shop-outbox/status`).then((x) =>
    x.json()
  ).catch(() => undefined);
  return r?.connector?.state === "RUNNING" &&
    r.tasks?.every((t: { state: string }) => t.state === "RUNNING");
};

const FAULTS: { name: string; inject: (notes: string[]) => Promise<void> }[] = [
  {
    name: "worker (inventory) SIGKILL",
    inject: async () => {
      await workers.stop("inventory", { kill: true });
      await pause(3000);
      await workers.start("inventory");
    },
  },
  {
    name: "API SIGKILL",
    inject: async () => {
      await api.stop({ kill: true });
      await pause(3000);
      api = await startApiProcess();
    },
  },
  {
    name: "Kafka Connect SIGKILL",
    inject: async () => {
      await components.connect.stop({ kill: true });
      await pause(3000);
      await components.connect.start();
      await waitFor(relayRunning, { timeoutMs: 120_000, what: "the relay to run again" });
    },
  },
  {
    name: "Kafka broker SIGKILL",
    inject: async (notes) => {
      await components.kafka.stop({ kill: true });
      await pause(3000);
      await components.kafka.start();
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
    inject: async (notes) => {
      await components.postgres.stop();
      try {
        await checkPostgresDown(notes);
      } finally {
        await pause(3000);
        await components.postgres.start();
      }
      const ok = await waitFor(relayRunning, { timeoutMs: 60_000, what: "the relay" }).catch(() =>
        false
      );
      if (!ok) {
        notes.push("connector task FAILED after the Postgres restart; restarted by relay:register");
        await registerConnector(cfg);
      }
    },
  },
];

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
}

/** Records of the run's keys delivered more than once (by event id) on the saga's topics. */
async function duplicatesDelivered(keys: Set<string>): Promise<number> {
  let dup = 0;
  for (const t of ["order", "coupon-issue", "inventory", "payment", "coupon-redemption"]) {
    const seen = new Set<string>();
    for (const r of await readTopic(kafka, topicFor(t), 120_000)) {
      if (!r.key || !keys.has(r.key.toString())) continue;
      const id = r.headers.id;
      if (seen.has(id)) dup++;
      else seen.add(id);
    }
  }
  return dup;
}

const rows: Row[] = [];
const only = Deno.args.length ? Deno.args : undefined;
for (const [i, fault] of FAULTS.entries()) {
  if (only && !only.some((o) => fault.name.toLowerCase().includes(o))) continue;
  const notes: string[] = [];
  const driver = new LoadDriver(() => api.url, `f${Date.now().toString(36)}${i}`);
  await driver.setup();
  driver.start(25);
  await pause(5000);
  const [{ at }] = await sql<{ at: Date }[]>`select now() as at`;
  console.log(`fault: ${fault.name}`);
  let injectFailed = false;
  try {
    await fault.inject(notes);
  } catch (err) {
    injectFailed = true;
    notes.push(`FAILED: ${(err as Error).message}`);
  }
  await pause(5000);
  await driver.stop();

  const { orders, requests } = driver.ledger;
  const accepted = orders.length + requests.length;
  await waitFor(async () => {
    const [r] = await sql<{ n: number }[]>`
      select ((select count(*) from orders where id = any(${orders}::uuid[]) and status = 'PENDING') +
              (select count(*) from coupon_requests where id = any(${requests}::uuid[]) and status = 'PENDING'))::int as n`;
    return r.n === 0;
  }, { timeoutMs: 180_000, intervalMs: 500, what: "quiet" }).catch(() => {});
  const [t] = await sql<{ terminal: number; first: Date | null }[]>`
    select ((select count(*) from orders where id = any(${orders}::uuid[]) and status <> 'PENDING') +
            (select count(*) from coupon_requests where id = any(${requests}::uuid[]) and status <> 'PENDING'))::int as terminal,
           least((select min(updated_at) from orders where id = any(${orders}::uuid[]) and status <> 'PENDING' and updated_at > ${at}),
                 (select min(updated_at) from coupon_requests where id = any(${requests}::uuid[]) and status <> 'PENDING' and updated_at > ${at})) as first`;
  // Compensations may still be in flight when the last order settles: poll until quiet.
  let found: string[] = [];
  await waitFor(async () => (found = await violations(sql, driver.fixture)).length === 0, {
    timeoutMs: 120_000,
    intervalMs: 500,
    what: "invariants",
  }).catch(() => {});
  for (const v of found) notes.push(`violation: ${v}`);
  const keys = new Set([...orders, ...driver.fixture.couponIds]);
  rows.push({
    fault: fault.name,
    accepted,
    terminal: t.terminal,
    lost: accepted - t.terminal,
    duplicatesDelivered: await duplicatesDelivered(keys),
    // A fault whose own checks failed marks its row, so the run fails.
    duplicateEffects: found.filter((v) => !v.startsWith("5:")).length + (injectFailed ? 1 : 0),
    recoverySeconds: t.first ? Math.round((t.first.getTime() - at.getTime()) / 100) / 10 : NaN,
    notes,
  });
  console.log(JSON.stringify(rows.at(-1)));
}

await workers.stopAll();
await api.stop();
await sql.end();

const table = [
  "| fault | requests accepted | terminal | lost | duplicates delivered | duplicate effects | recovery s |",
  "|---|---|---|---|---|---|---|",
  ...rows.map((r) =>
    `| ${r.fault} | ${r.accepted} | ${r.terminal} | ${r.lost} | ${r.duplicatesDelivered} | ${r.duplicateEffects} | ${r.recoverySeconds} |`
  ),
  "",
  ...rows.flatMap((r) => r.notes.map((n) => `- ${r.fault}: ${n}`)),
].join("\n");
console.log(`\n${table}`);
await Deno.mkdir("results", { recursive: true });
await Deno.writeTextFile(
  `results/faults-${new Date().toISOString().replace(/[:.]/g, "-")}.md`,
  table + "\n",
);
const bad = rows.filter((r) => r.lost > 0 || r.duplicateEffects > 0);
if (bad.length > 0) {
  console.error(`FAILED: ${bad.map((r) => r.fault).join(", ")}`);
  Deno.exit(1);
}
Deno.exit(0);
