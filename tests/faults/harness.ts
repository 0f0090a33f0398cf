/**
 * The machinery every fault table shares (`tests/faults/run.ts` on the single-node stack,
 * `tests/faults/cluster.ts` on the cluster profile): under a steady mixed load through the real
 * API, one fault at a time; after each, once quiet: every accepted request is terminal (lost), no
 * order ended later than its deadline plus the fault's length (stuck), the invariants hold and no
 * effect is doubled; duplicates delivered, dead letters and the stall (the worst wait of the
 * mix's requests placed in the 5 s after each destructive action of the fault, see
 * `tests/faults/stall.ts`) are recorded.
 */
import type { Config } from "../../src/platform/config.ts";
import type { Sql } from "../../src/platform/db.ts";
import type { Kafka } from "../../src/platform/kafka.ts";
import { readTopic } from "../../src/platform/read_topic.ts";
import { topicFor } from "../../src/events/topics.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { registerConnector } from "../../relay/register.ts";
import { violations } from "../helpers/invariants.ts";
import { groupLag } from "../../src/platform/lag.ts";
import { SERVICES } from "../../src/workers.ts";
import { LoadDriver } from "./load_driver.ts";
import { type Decision, stall } from "./stall.ts";

/** Requests placed this long after a mark are the ones whose waits make the stall. */
export const STALL_WINDOW_MS = 5000;

export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms)); // a fault's own length or load pacing, not a sync point

export interface Row {
  fault: string;
  accepted: number;
  terminal: number;
  lost: number;
  duplicatesDelivered: number;
  duplicateEffects: number;
  /** Orders that ended later than deadline + fault length + slack, or never. */
  stuck: number;
  deadLettered: number;
  /**
   * The worst wait (s) of the mix's requests placed within STALL_WINDOW_MS after any mark of the
   * fault; null if one of them timed out or never ended (shown as "> deadline").
   */
  stallSeconds: number | null;
  /**
   * The faulted component's own time to be back (s): from the fault's first mark (or its start)
   * to its last `back` (the runner's own pause before a restart included, then the process start,
   * a leader election, a connector task RUNNING: each fault says which); null if it names none.
   */
  componentSeconds: number | null;
  /** The stall minus the component's time: what the system adds on top; null if either is. */
  overheadSeconds: number | null;
  /** The worst wait of the requests placed 5 to 2 s before the fault: the noise floor. */
  noiseFloorSeconds: number;
  notes: string[];
}

export interface FaultContext {
  driver: LoadDriver;
  /**
   * Marks now as an instant the fault's destructive action happens (a kill, a stop, a pause, a
   * restart), just before doing it; the stall is measured from every mark. A fault that marks
   * nothing is measured from the start of its `inject`.
   */
  mark: (label: string) => void;
  /**
   * Marks now as the instant the faulted component is back (what it means is the label's: the
   * process answers, the connector task is RUNNING, the broker leads its partitions again). The
   * last one counts.
   */
  back: (label: string) => void;
}

export interface Fault {
  name: string;
  inject: (notes: string[], ctx: FaultContext) => Promise<void>;
  /** Dead letters this fault causes on purpose (default 0). */
  expectedDeadLetters?: number;
  /**
   * Undoes what the fault left on purpose (a node kept down through the row), after the row is
   * measured and before the next begins.
   */
  after?: (notes: string[]) => Promise<void>;
}

/** Whether the relay's connector and every task of it run, as the Connect at `connectUrl` says. */
export async function relayRunning(connectUrl: string): Promise<boolean> {
  const r = await fetch(`${connectUrl}/connectors/shop-outbox/status`, {
    signal: AbortSignal.timeout(5000),
  }).then((x) => x.json()).catch(() => undefined);
  return r?.connector?.state === "RUNNING" && r.tasks?.length > 0 &&
    r.tasks.every((t: { state: string }) => t.state === "RUNNING");
}

/** The relay running again after a fault, re-registered (task restarted) if it failed. */
export async function relayBack(cfg: Config, notes: string[], what: string): Promise<void> {
  const ok = await waitFor(() => relayRunning(cfg.kafkaConnectUrl), {
    timeoutMs: 60_000,
    what: "the relay",
  }).catch(() => false);
  if (!ok) {
    notes.push(`connector task FAILED after ${what}; restarted by relay:register`);
    await registerConnector(cfg);
  }
}

/** Each consumer group's partitions more than one record (a transaction marker) behind. */
async function behind(kafka: Kafka): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const out: string[] = [];
    for (const [group, service] of Object.entries(SERVICES)) {
      const lags = await groupLag(admin, group, service.topics).catch((err: Error) => err);
      if (lags instanceof Error) {
        out.push(`lag of ${group}: ${lags.message}`);
        continue;
      }
      const slow = lags.filter((l) => l.lag > 1);
      if (slow.length > 0) {
        out.push(
          `${group} behind: ${
            slow.map((l) => `${l.topic}/${l.partition} at ${l.committed} of ${l.end}`).join(", ")
          }`,
        );
      }
    }
    return out.length > 0 ? out : ["every group at the end of its topics"];
  } finally {
    await admin.disconnect();
  }
}

/** Records of the run's keys delivered more than once (by event id) on the saga's topics. */
async function duplicatesDelivered(kafka: Kafka, keys: Set<string>): Promise<number> {
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

export interface FaultRun {
  faults: Fault[];
  /** Name filters (lower case substrings); none: every fault. */
  only?: string[];
  sql: Sql;
  kafka: Kafka;
  /** The API's URL now (a fault may restart it on another port). */
  apiUrl: () => string;
  /** Slack of the stuck check: the sweep's cadence plus a decision's own latency. */
  stuckSlackMs: number;
  /** Requests per second of the mixed load. @default 25 */
  rate?: number;
}

export interface FaultResults {
  rows: Row[];
  /** Faults whose own checks failed, or that dead-lettered other than expected. */
  failedChecks: string[];
}

/** Runs each fault of `run.faults` (matching `run.only`) under load and measures it. */
export async function runFaults(run: FaultRun): Promise<FaultResults> {
  const { sql, kafka } = run;
  const rows: Row[] = [];
  const failedChecks: string[] = [];
  for (const [i, fault] of run.faults.entries()) {
    if (run.only?.length && !run.only.some((o) => fault.name.toLowerCase().includes(o))) continue;
    const notes: string[] = [];
    const driver = new LoadDriver(run.apiUrl, `f${Date.now().toString(36)}${i}`);
    await driver.setup();
    driver.start(run.rate ?? 25);
    await pause(5000);
    const [{ at }] = await sql<{ at: Date }[]>`select now() as at`;
    console.log(`fault: ${fault.name}`);
    let injectFailed = false;
    const injected = performance.now();
    const injectedAt = Date.now();
    const marks: { label: string; at: number }[] = [];
    const mark = (label: string) => void marks.push({ label, at: Date.now() });
    let backAt: { label: string; at: number } | undefined;
    const back = (label: string) => void (backAt = { label, at: Date.now() });
    try {
      await fault.inject(notes, { driver, mark, back });
    } catch (err) {
      injectFailed = true;
      notes.push(`FAILED: ${(err as Error).message}`);
    }
    const faultMs = performance.now() - injected;
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
    const [t] = await sql<{ terminal: number }[]>`
      select ((select count(*) from orders where id = any(${orders}::uuid[]) and status <> 'PENDING') +
              (select count(*) from coupon_requests where id = any(${requests}::uuid[]) and status <> 'PENDING'))::int as terminal`;
    // The stall: the worst wait of the mix's requests placed just after each mark.
    const decided = await sql<{ id: string; decided_at: Date | null; timed_out: boolean }[]>`
      select id::text, case when status <> 'PENDING' then updated_at end as decided_at,
             cancel_reason is not distinct from 'TIMEOUT' as timed_out
        from orders where id = any(${orders}::uuid[])
      union all
      select id::text, case when status <> 'PENDING' then updated_at end,
             reason is not distinct from 'TIMEOUT'
        from coupon_requests where id = any(${requests}::uuid[])`;
    const decisions = new Map<string, Decision>(
      decided.map((d) => [d.id, { decidedAt: d.decided_at?.getTime(), timedOut: d.timed_out }]),
    );
    if (marks.length === 0) marks.push({ label: "the fault's start", at: injectedAt });
    const first = marks[0].at;
    const base = stall(driver.ledger.attempts, decisions, first - 5000, first - 2000);
    notes.push(
      `placed 5 to 2 s before the fault: median wait ${secs(base.medianMs)} s, worst ${
        secs(base.worstMs)
      } s` + (base.timedOut ? `, ${base.timedOut} timed out` : ""),
    );
    let stallSeconds: number | null = 0;
    for (const m of marks) {
      const s = stall(driver.ledger.attempts, decisions, m.at, m.at + STALL_WINDOW_MS);
      const worst = s.timedOut > 0 ? null : secs(s.worstMs);
      stallSeconds = stallSeconds === null || worst === null ? null : Math.max(stallSeconds, worst);
      notes.push(
        `placed ${STALL_WINDOW_MS / 1000} s after ${m.label}: ${s.placed}` +
          (s.refused ? ` (${s.refused} refused or unreachable)` : "") +
          `, worst wait ${secs(s.worstMs)} s, median ${secs(s.medianMs)} s` +
          (s.timedOut ? `, ${s.timedOut} timed out or never decided` : "") +
          (s.firstMs === undefined ? "" : `; first outcome ${secs(s.firstMs)} s after it`),
      );
    }
    const componentSeconds = backAt ? secs(backAt.at - first) : null;
    if (backAt) notes.push(`${backAt.label} ${componentSeconds} s after the fault`);
    const overheadSeconds = stallSeconds === null || componentSeconds === null
      ? null
      : Math.round((stallSeconds - componentSeconds) * 10) / 10;
    // Compensations may still be in flight when the last order settles: poll until quiet.
    let found: string[] = [];
    await waitFor(async () => (found = await violations(sql, driver.fixture)).length === 0, {
      timeoutMs: 120_000,
      intervalMs: 500,
      what: "invariants",
    }).catch(() => {});
    for (const v of found) notes.push(`violation: ${v}`);
    // Where the run stands when an invariant still fails: every group's partitions behind the
    // log's end (more than a transaction marker), so a stuck consumer shows which one it is.
    if (found.length > 0) notes.push(...await behind(kafka));
    const keys = new Set([...orders, ...driver.fixture.couponIds]);
    // Invariant 5's bound: terminal within the deadline plus the time the fault lasted.
    const [late] = await sql<{ n: number }[]>`
      select count(*)::int as n from orders where id = any(${orders}::uuid[])
        and (status = 'PENDING' or updated_at > deadline_at + make_interval(secs => ${
      (faultMs + run.stuckSlackMs) / 1000
    }))`;
    const [dead] = await sql<{ n: number }[]>`
      select count(*)::int as n from dead_letter_log where created_at >= ${at}`;
    rows.push({
      fault: fault.name,
      accepted,
      terminal: t.terminal,
      lost: accepted - t.terminal,
      duplicatesDelivered: await duplicatesDelivered(kafka, keys),
      duplicateEffects: found.filter((v) => !v.startsWith("5:")).length,
      stuck: late.n,
      deadLettered: dead.n,
      stallSeconds,
      componentSeconds,
      overheadSeconds,
      noiseFloorSeconds: secs(base.worstMs),
      notes,
    });
    // A fault whose own checks failed, or unexpected dead letters, fail the run.
    if (injectFailed) failedChecks.push(fault.name);
    if (dead.n !== (fault.expectedDeadLetters ?? 0)) {
      notes.push(`dead letters: ${dead.n}, expected ${fault.expectedDeadLetters ?? 0}`);
      failedChecks.push(fault.name);
    }
    if (fault.after) {
      try {
        await fault.after(notes);
      } catch (err) {
        notes.push(`FAILED after the row: ${(err as Error).message}`);
        failedChecks.push(fault.name);
      }
    }
    console.log(JSON.stringify(rows.at(-1)));
  }
  return { rows, failedChecks };
}

const secs = (ms: number) => Math.round(ms / 100) / 10;

/** The table (markdown) and every row's notes; `deadlineMs` for a stall with timeouts. */
export function faultTable(rows: Row[], deadlineMs: number): string {
  const stallOf = (r: Row) => r.stallSeconds ?? `> ${deadlineMs / 1000} (deadline)`;
  const orNa = (v: number | null) => v ?? "n/a";
  return [
    "| fault | requests accepted | terminal | lost | duplicates delivered | duplicate effects | stuck | dead-lettered | component back s | stall s | overhead s | noise floor s |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) =>
      `| ${r.fault} | ${r.accepted} | ${r.terminal} | ${r.lost} | ${r.duplicatesDelivered} | ${r.duplicateEffects} | ${r.stuck} | ${r.deadLettered} | ${
        orNa(r.componentSeconds)
      } | ${stallOf(r)} | ${orNa(r.overheadSeconds)} | ${r.noiseFloorSeconds} |`
    ),
    "",
    ...rows.flatMap((r) => r.notes.map((n) => `- ${r.fault}: ${n}`)),
  ].join("\n");
}

/**
 * Prints the table, writes it to `results/<name>-<time>.md` (after `preamble`, if any) and
 * returns the exit code: 1 if a row has lost, duplicate effects or stuck > 0, or a check failed.
 */
export async function report(
  name: string,
  { rows, failedChecks }: FaultResults,
  deadlineMs: number,
  preamble = "",
): Promise<number> {
  const table = faultTable(rows, deadlineMs);
  console.log(`\n${preamble}${table}`);
  await Deno.mkdir("results", { recursive: true });
  await Deno.writeTextFile(
    `results/${name}-${new Date().toISOString().replace(/[:.]/g, "-")}.md`,
    preamble + table + "\n",
  );
  const bad = rows.filter((r) => r.lost > 0 || r.duplicateEffects > 0 || r.stuck > 0)
    .map((r) => r.fault);
  if (bad.length > 0 || failedChecks.length > 0) {
    const failed = new Set([...bad, ...failedChecks]);
    // Again at the very end, where a CI log's tail shows it: each failed row's numbers and notes.
    for (const r of rows.filter((r) => failed.has(r.fault))) {
      console.error(
        `failed row: ${r.fault}: lost ${r.lost}, duplicate effects ${r.duplicateEffects}, ` +
          `stuck ${r.stuck}, dead-lettered ${r.deadLettered}`,
      );
      for (const n of r.notes) console.error(`  ${n}`);
    }
    console.error(`FAILED: ${[...failed].join(", ")}`);
    return 1;
  }
  return 0;
}
