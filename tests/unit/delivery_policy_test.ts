/**
 * The delivery policy's table: each row is a partition state, a run, what happened, and the
 * action the runtime must take. Then a property: a simulated partition driven only by the policy
 * ends with every record committed once, in order, and exactly the bad records dead-lettered.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type Action,
  backoffMs,
  DEFAULT_POLICY,
  type Failure,
  newPartitionState,
  next,
  type Observation,
  type PartitionState,
  type PolicyConfig,
} from "../../src/platform/delivery_policy.ts";
import type { Decoded, DecodedEvent } from "../../src/platform/decode_record.ts";

const cfg: PolicyConfig = { ...DEFAULT_POLICY, maxAttempts: 3, batchSize: 4 };
/** Always the ceiling: backoffs are deterministic and show their bound. */
const top = () => 0.999999;

const run = (...offsets: number[]) => offsets.map((o) => ({ offset: String(o) }));
const event = (offset: number): DecodedEvent => ({
  id: `00000000-0000-7000-8000-${String(offset).padStart(12, "0")}`,
  type: "T",
  version: 1,
  key: "k",
  payload: {},
  topic: "t",
  partition: 0,
  offset: String(offset),
  timestamp: 0,
});
const ev = (offset: number): Decoded => ({ kind: "event", event: event(offset) });
const skip: Decoded = { kind: "skip", type: "Other" };
const poison: Decoded = { kind: "poison", reason: "header 'id' is missing or not a UUID" };
const fail = (kind: Failure["kind"], dependency: Failure["dependency"] = "database"): Failure => ({
  kind,
  dependency,
  name: kind === "data" ? "PostgresError" : "Err",
  message: `${kind} failure`,
});

interface Row {
  name: string;
  state?: Partial<PartitionState>;
  run: { offset: string }[];
  observed: Observation;
  action: Action | ((a: Action) => void);
  after?: Partial<PartitionState>;
}

const rows: Row[] = [
  // Taking runs.
  {
    name: "a fetch is taken up to batchSize",
    run: run(10, 11, 12, 13, 14, 15),
    observed: { kind: "fetched" },
    action: { kind: "take", count: 4 },
  },
  {
    name: "a short fetch is taken whole",
    run: run(10, 11),
    observed: { kind: "fetched" },
    action: { kind: "take", count: 2 },
  },
  {
    name: "records up to singleUntil are taken one by one",
    state: { singleUntil: 12n },
    run: run(11, 12, 13),
    observed: { kind: "fetched" },
    action: { kind: "take", count: 1 },
    after: { singleUntil: 12n },
  },
  {
    name: "past singleUntil, runs are whole again",
    state: { singleUntil: 12n },
    run: run(13, 14),
    observed: { kind: "fetched" },
    action: { kind: "take", count: 2 },
    after: { singleUntil: undefined },
  },
  // Decoding.
  {
    name: "decoded events are applied as one run",
    run: run(10, 11, 12),
    observed: { kind: "decoded", decoded: [ev(10), skip, ev(12)] },
    action: { kind: "apply", count: 3, events: [event(10), event(12)], skipped: 1 },
  },
  {
    name: "a run of skipped types is committed without a transaction",
    run: run(10, 11),
    observed: { kind: "decoded", decoded: [skip, skip] },
    action: { kind: "commit", count: 2, skipped: 2 },
  },
  {
    name: "a single poison record is dead-lettered at once",
    run: run(10),
    observed: { kind: "decoded", decoded: [poison] },
    action: { kind: "deadLetter", errorClass: "PoisonRecord", errorMessage: poison.reason },
  },
  {
    name: "poison at the head of a run splits it",
    run: run(10, 11),
    observed: { kind: "decoded", decoded: [poison, ev(11)] },
    action: { kind: "split", reason: poison.reason },
    after: { singleUntil: 10n },
  },
  {
    name: "poison inside a run: the records before it are applied first",
    run: run(10, 11, 12),
    observed: { kind: "decoded", decoded: [ev(10), poison, ev(12)] },
    action: { kind: "apply", count: 1, events: [event(10)], skipped: 0 },
    after: { singleUntil: 11n },
  },
  {
    name: "poison after skipped records: those are committed first",
    run: run(10, 11, 12),
    observed: { kind: "decoded", decoded: [skip, poison, ev(12)] },
    action: { kind: "commit", count: 1, skipped: 1 },
    after: { singleUntil: 11n },
  },
  // Applied.
  {
    name: "an applied run is committed and its attempts forgotten",
    state: { attempts: new Map([["10", 2]]) },
    run: run(10, 11),
    observed: { kind: "applied", count: 2, skipped: 1 },
    action: { kind: "commit", count: 2, skipped: 1 },
    after: { attempts: new Map() },
  },
  // Infrastructure: wait for the probe, however long.
  {
    name: "database unreachable: wait for its probe, no floor the first time",
    run: run(10, 11),
    observed: { kind: "applyFailed", failure: fail("infrastructure") },
    action: {
      kind: "waitFor",
      dependency: "database",
      minWaitMs: 0,
      attempt: 1,
      failure: fail("infrastructure"),
    },
    after: { attempts: new Map(), outages: new Map([["10", 1]]) },
  },
  {
    name: "database still unreachable after the probe answered: a short floor",
    state: { outages: new Map([["10", 3]]) },
    run: run(10, 11),
    observed: { kind: "applyFailed", failure: fail("infrastructure") },
    action: {
      kind: "waitFor",
      dependency: "database",
      minWaitMs: 800,
      attempt: 4,
      failure: fail("infrastructure"),
    },
  },
  {
    name: "infrastructure never dead-letters, even after many attempts",
    state: { attempts: new Map([["10", 4]]), outages: new Map([["10", 500]]) },
    run: run(10),
    observed: { kind: "applyFailed", failure: fail("infrastructure") },
    action: (a) => {
      assert.equal(a.kind, "waitFor");
      if (a.kind === "waitFor") assert.equal(a.minWaitMs, DEFAULT_POLICY.probeFloorCapMs);
    },
  },
  // Transient: retry with backoff, then split or dead-letter.
  {
    name: "an outage does not use up a run's transient attempts",
    state: { attempts: new Map([["10", 1]]), outages: new Map([["10", 7]]) },
    run: run(10),
    observed: { kind: "applyFailed", failure: fail("transient") },
    action: { kind: "retry", waitMs: 400, attempt: 2, failure: fail("transient") },
  },
  {
    name: "transient: retried after a jittered backoff",
    run: run(10, 11),
    observed: { kind: "applyFailed", failure: fail("transient") },
    action: { kind: "retry", waitMs: 200, attempt: 1, failure: fail("transient") },
  },
  {
    name: "transient past maxAttempts in a run: split up to its last record",
    state: { attempts: new Map([["10", 2]]) },
    run: run(10, 11, 12),
    observed: { kind: "applyFailed", failure: fail("transient") },
    action: { kind: "split", reason: "transient failure" },
    after: { singleUntil: 12n, attempts: new Map() },
  },
  {
    name: "transient past maxAttempts on one record: dead-lettered as RetriesExhausted",
    state: { attempts: new Map([["11", 2]]) },
    run: run(11),
    observed: { kind: "applyFailed", failure: fail("transient"), eventId: event(11).id },
    action: {
      kind: "deadLetter",
      errorClass: "RetriesExhausted",
      errorMessage: "transient failure",
      eventId: event(11).id,
    },
  },
  {
    name: "attempts count by the run's first offset, even when it comes back longer",
    state: { attempts: new Map([["10", 1]]) },
    run: run(10, 11, 12, 13),
    observed: { kind: "applyFailed", failure: fail("transient") },
    action: { kind: "retry", waitMs: 400, attempt: 2, failure: fail("transient") },
  },
  // Data.
  {
    name: "a data failure splits a run at once",
    run: run(10, 11),
    observed: { kind: "applyFailed", failure: fail("data") },
    action: { kind: "split", reason: "data failure" },
    after: { singleUntil: 11n },
  },
  {
    name: "a data failure of one record dead-letters it with the error's class",
    run: run(11),
    observed: { kind: "applyFailed", failure: fail("data"), eventId: event(11).id },
    action: {
      kind: "deadLetter",
      errorClass: "PostgresError",
      errorMessage: "data failure",
      eventId: event(11).id,
    },
  },
  // The dead letter itself.
  {
    name: "dead-lettered: committed",
    state: { attempts: new Map([["11", 1]]) },
    run: run(11),
    observed: { kind: "deadLettered" },
    action: { kind: "commit", count: 1, skipped: 0 },
    after: { attempts: new Map() },
  },
  {
    name: "dead letter, Kafka unreachable: wait for Kafka's probe",
    run: run(11),
    observed: { kind: "deadLetterFailed", failure: fail("infrastructure", "kafka") },
    action: {
      kind: "waitFor",
      dependency: "kafka",
      minWaitMs: 0,
      attempt: 1,
      failure: fail("infrastructure", "kafka"),
    },
  },
  {
    name: "dead letter, transient database error: retried like any transient failure",
    run: run(11),
    observed: { kind: "deadLetterFailed", failure: fail("transient") },
    action: { kind: "retry", waitMs: 200, attempt: 1, failure: fail("transient") },
  },
  {
    name: "dead letter, transient past maxAttempts: parked, retried later",
    state: { attempts: new Map([["11", 2]]) },
    run: run(11),
    observed: { kind: "deadLetterFailed", failure: fail("transient") },
    action: {
      kind: "park",
      reason: "cannot dead-letter offset 11: transient failure",
      retryMs: 60_000,
    },
  },
  {
    name: "dead letter refused for good: parked, retried later",
    run: run(11),
    observed: { kind: "deadLetterFailed", failure: fail("data", "kafka") },
    action: {
      kind: "park",
      reason: "cannot dead-letter offset 11: data failure",
      retryMs: 60_000,
    },
  },
];

for (const row of rows) {
  Deno.test(`delivery policy: ${row.name}`, () => {
    const state: PartitionState = { ...newPartitionState(), ...row.state };
    state.attempts = new Map(state.attempts);
    state.outages = new Map(state.outages);
    const action = next(state, row.run, row.observed, cfg, top);
    if (typeof row.action === "function") row.action(action);
    else assert.deepEqual(action, row.action);
    for (const [k, v] of Object.entries(row.after ?? {})) {
      assert.deepEqual(state[k as keyof PartitionState], v, `state.${k} after`);
    }
  });
}

Deno.test("delivery policy: bounded, jittered backoff", () => {
  for (let attempt = 0; attempt < 40; attempt++) {
    const ms = backoffMs(attempt, 5000);
    assert.ok(ms >= 0 && ms <= Math.min(5000, 100 * 2 ** attempt), `${attempt}: ${ms}`);
  }
  assert.equal(backoffMs(3, 5000, () => 0), 0);
  assert.equal(backoffMs(3, 5000, () => 0.5), 400);
});

/** What a record of the simulated partition does when decoded and applied. */
type Behaviour =
  | { kind: "ok" }
  | { kind: "skip" }
  | { kind: "poison" }
  | { kind: "data" }
  /** Fails transiently this many times, then applies. */
  | { kind: "transient"; times: number }
  /** The database is down for this many attempts of any run containing it, then applies. */
  | { kind: "outage"; times: number };

const behaviour = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Behaviour>({ kind: "ok" }) },
  { weight: 1, arbitrary: fc.constant<Behaviour>({ kind: "skip" }) },
  { weight: 1, arbitrary: fc.constant<Behaviour>({ kind: "poison" }) },
  { weight: 1, arbitrary: fc.constant<Behaviour>({ kind: "data" }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 4 }).map((times) => ({
      kind: "transient" as const,
      times,
    })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 3 }).map((times) => ({ kind: "outage" as const, times })),
  },
);

/**
 * Drives one partition with the policy alone, the way consumer.ts does: fetch from the committed
 * position, take, decode, apply (a transaction of the whole run: one failing record fails it),
 * dead-letter, commit; a pause simply fetches again. Returns what was applied, dead-lettered and
 * committed, in order.
 */
function simulate(records: Behaviour[], batchSize: number) {
  const policy = { ...cfg, batchSize };
  const state = newPartitionState();
  const remaining = records.map((b) => ("times" in b ? b.times : 0));
  const applied: number[] = [];
  const deadLettered: number[] = [];
  const commits: number[] = [];
  let position = 0;
  for (let steps = 0; position < records.length; steps++) {
    assert.ok(steps < 10_000, "the partition makes progress");
    const fetched = records.slice(position).map((_, i) => ({ offset: String(position + i) }));
    let action = next(state, fetched, { kind: "fetched" }, policy, top);
    let taken: { offset: string }[] = [];
    for (let inner = 0; inner < 100; inner++) {
      if (action.kind === "take") {
        taken = fetched.slice(0, action.count);
        const decoded = taken.map(({ offset }): Decoded => {
          const b = records[Number(offset)];
          if (b.kind === "skip") return skip;
          if (b.kind === "poison") return poison;
          return ev(Number(offset));
        });
        action = next(state, taken, { kind: "decoded", decoded }, policy, top);
      } else if (action.kind === "apply") {
        const offsets = action.events.map((e) => Number(e.offset));
        const outage = offsets.find((o) => records[o].kind === "outage" && remaining[o] > 0);
        const transient = offsets.find((o) => records[o].kind === "transient" && remaining[o] > 0);
        const data = offsets.find((o) => records[o].kind === "data");
        let failure: Failure | undefined;
        if (outage !== undefined) {
          remaining[outage]--;
          failure = fail("infrastructure");
        } else if (data !== undefined) failure = fail("data");
        else if (transient !== undefined) {
          remaining[transient]--;
          failure = fail("transient");
        }
        if (failure) {
          action = next(state, taken, { kind: "applyFailed", failure }, policy, top);
        } else {
          applied.push(...offsets);
          action = next(
            state,
            taken,
            {
              kind: "applied",
              count: action.count,
              skipped: action.skipped,
            },
            policy,
            top,
          );
        }
      } else if (action.kind === "deadLetter") {
        deadLettered.push(Number(taken[0].offset));
        action = next(state, taken, { kind: "deadLettered" }, policy, top);
      } else if (action.kind === "commit") {
        position += action.count;
        commits.push(position);
        break;
      } else if (action.kind === "split") {
        break; // fetched again from the same position
      } else if (action.kind === "park") {
        throw new Error("parked: the simulated dead letter never fails");
      } else {
        break; // retry, waitFor: paused, then fetched again
      }
    }
  }
  return { applied, deadLettered, commits };
}

Deno.test("delivery policy: a simulated partition commits every record once; only bad ones are dead-lettered", () => {
  fc.assert(
    fc.property(
      fc.array(behaviour, { minLength: 1, maxLength: 30 }),
      fc.integer({ min: 1, max: 8 }),
      (records, batchSize) => {
        const { applied, deadLettered, commits } = simulate(records, batchSize);
        const handled = records.flatMap((b, i) => b.kind === "skip" ? [] : [i]);
        assert.deepEqual(
          [...applied, ...deadLettered].sort((a, b) => a - b),
          handled,
          "every event either applied or dead-lettered, once",
        );
        assert.deepEqual(applied, [...applied].sort((a, b) => a - b), "applied in offset order");
        for (const [i, b] of records.entries()) {
          const where = deadLettered.includes(i) ? "dead-lettered" : "applied";
          if (b.kind === "poison" || b.kind === "data") {
            assert.equal(where, "dead-lettered", `${i}`);
          }
          if (b.kind === "ok" || b.kind === "outage") assert.equal(where, "applied", `${i}`);
          // Fewer transient failures than attempts always pass; more may, once split from a run.
          if (b.kind === "transient" && b.times < cfg.maxAttempts) {
            assert.equal(where, "applied", `${i}`);
          }
        }
        assert.equal(commits.at(-1), records.length, "committed to the end");
        assert.ok(commits.every((c, i) => i === 0 || c > commits[i - 1]), "commits only advance");
      },
    ),
    {
      numRuns: 2000,
      // Found by this property: an outage used up the transient attempts of the record after it.
      examples: [[[{ kind: "transient", times: 2 }, { kind: "outage", times: 1 }, {
        kind: "poison",
      }], 3]],
    },
  );
});
