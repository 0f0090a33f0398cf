/**
 * The delivery policy: every decision the consumer runtime makes about a run of records, as pure
 * functions of what happened. The adapter (consumer.ts) does the I/O (decoding, the transaction,
 * the dead-letter write, Kafka's pause, resume and commit) and asks `next` what to do after each
 * step; this file does none of it, so its table is unit-tested (tests/unit/delivery_policy_test.ts)
 * and the fault tables test the whole.
 *
 * The rules:
 * - A run is what one fetch brought of a partition, up to `batchSize` records; after a failure
 *   inside a run, the records up to the failing one are taken one by one (`singleUntil`).
 * - Decoding: records of types the service does not handle are skipped; a poison record inside
 *   a run splits it (the records before it are applied, then it alone is dead-lettered).
 * - Applied: commit the offsets of the run.
 * - Infrastructure failure (database or Kafka unreachable): pause the partition until a probe of
 *   that dependency answers, for as long as it takes; never dead-letter. A short floor between
 *   repeated attempts keeps a probe that answers while the work still fails from spinning.
 * - Transient failure (serialization, deadlock, lock or statement timeout, a row not visible
 *   yet): retry after a jittered backoff, `maxAttempts` times, then split the run or, for a single
 *   record, dead-letter it.
 * - Data failure (a deterministic SQL error, a bug): split the run; a single record is
 *   dead-lettered at once.
 * - Dead-letter write failed: infrastructure waits for the probe; transient retries with backoff;
 *   a refusal for good, or transient failures past `maxAttempts`, parks the partition: it is
 *   retried every `parkRetryMs` (an operator may fix the cause, e.g. an ACL) and the worker
 *   reports `failing` meanwhile.
 */
import type { Decoded, DecodedEvent } from "./decode_record.ts";
import type { Dependency, ErrorKind } from "./errors.ts";

export interface PolicyConfig {
  /** Attempts of a run that fails transiently before it is split or dead-lettered. */
  maxAttempts: number;
  /** Records applied in one transaction. */
  batchSize: number;
  /** Backoff ceiling for transient failures. */
  transientCapMs: number;
  /** Floor-between-attempts ceiling while a dependency is down (the probe decides the rest). */
  probeFloorCapMs: number;
  /** How often a parked partition tries again. */
  parkRetryMs: number;
}

export const DEFAULT_POLICY: PolicyConfig = {
  maxAttempts: 5,
  batchSize: 500,
  transientCapMs: 2000,
  probeFloorCapMs: 1000,
  parkRetryMs: 60_000,
};

/** Retry bookkeeping of one partition, kept across pauses (a paused run is fetched again). */
export interface PartitionState {
  /**
   * Attempts of the run starting at an offset. Keyed by the offset alone: a run fetched again
   * after a pause may be longer (new records arrived), and must not start counting anew.
   */
  attempts: Map<string, number>;
  /**
   * Infrastructure failures of the run starting at an offset, counted apart: an outage is not the
   * run's fault and must not use up its transient attempts; it only sets the floor between tries.
   */
  outages: Map<string, number>;
  /** Until this offset, runs are single records (a run failed as a whole; find the culprit). */
  singleUntil?: bigint;
}

export function newPartitionState(): PartitionState {
  return { attempts: new Map(), outages: new Map() };
}

/** A failure as the policy sees it: its class, which dependency, and what to report. */
export interface Failure {
  kind: ErrorKind;
  dependency: Dependency;
  /** The error's class name, used as the dead letter's `dlq.error.class`. */
  name: string;
  message: string;
}

/** What happened in the last step of a run. */
export type Observation =
  | { kind: "fetched" }
  | { kind: "decoded"; decoded: Decoded[] }
  /** The apply action's events committed; `count` and `skipped` are the action's. */
  | { kind: "applied"; count: number; skipped: number }
  | { kind: "applyFailed"; failure: Failure; eventId?: string }
  | { kind: "deadLettered" }
  | { kind: "deadLetterFailed"; failure: Failure };

/** What the adapter does next. */
export type Action =
  /** Decode the first `count` fetched records: they are the next run. */
  | { kind: "take"; count: number }
  /** Apply these events (claimed in the inbox, then handled) in one transaction. */
  | { kind: "apply"; count: number; events: DecodedEvent[]; skipped: number }
  /** The first `count` records of the run are done: commit their offsets. */
  | { kind: "commit"; count: number; skipped: number }
  /** Send the run's first record to the dead-letter topic (once). */
  | { kind: "deadLetter"; errorClass: string; errorMessage: string; eventId?: string }
  /** Take the run again from its first record, one record at a time. */
  | { kind: "split"; reason: string }
  /** Pause the partition, fetch the run again after `waitMs`. */
  | { kind: "retry"; waitMs: number; attempt: number; failure: Failure }
  /** Pause the partition until a probe of `dependency` answers, and at least `minWaitMs`. */
  | {
    kind: "waitFor";
    dependency: Dependency;
    minWaitMs: number;
    attempt: number;
    failure: Failure;
  }
  /** Pause the partition, report it failing, try again after `retryMs`. */
  | { kind: "park"; reason: string; retryMs: number };

/** Random numbers in [0, 1), injected so the table is deterministic under test. */
export type Random = () => number;

/** Exponential backoff with full jitter: a delay in [0, min(cap, 100 ms * 2^attempt)]. */
export function backoffMs(attempt: number, capMs: number, random: Random = Math.random): number {
  const ceiling = Math.min(capMs, 100 * 2 ** Math.min(attempt, 16));
  return Math.round(random() * ceiling);
}

function nextAttempt(counts: Map<string, number>, firstOffset: string): number {
  const n = (counts.get(firstOffset) ?? 0) + 1;
  counts.set(firstOffset, n);
  return n;
}

/**
 * The next action for the run whose records are `run` (the fetched records from the current
 * position on: for `fetched` all of them, after `take` the run itself), given `observed`.
 * Updates `state` (attempt counts, `singleUntil`).
 */
export function next(
  state: PartitionState,
  run: readonly { offset: string }[],
  observed: Observation,
  cfg: PolicyConfig = DEFAULT_POLICY,
  random: Random = Math.random,
): Action {
  const first = run[0].offset;
  switch (observed.kind) {
    case "fetched": {
      if (state.singleUntil !== undefined && BigInt(first) > state.singleUntil) {
        state.singleUntil = undefined;
      }
      const size = state.singleUntil === undefined ? cfg.batchSize : 1;
      return { kind: "take", count: Math.min(size, run.length) };
    }
    case "decoded": {
      const events: DecodedEvent[] = [];
      let skipped = 0;
      for (const [i, d] of observed.decoded.entries()) {
        if (d.kind === "event") events.push(d.event);
        else if (d.kind === "skip") skipped++;
        else if (run.length === 1) {
          return { kind: "deadLetter", errorClass: "PoisonRecord", errorMessage: d.reason };
        } else {
          // Poison inside a run: the records before it as a run, then it alone.
          state.singleUntil = BigInt(run[i].offset);
          if (i === 0) return { kind: "split", reason: d.reason };
          return events.length === 0
            ? { kind: "commit", count: i, skipped }
            : { kind: "apply", count: i, events, skipped };
        }
      }
      return events.length === 0
        ? { kind: "commit", count: run.length, skipped }
        : { kind: "apply", count: run.length, events, skipped };
    }
    case "applied":
      state.attempts.clear();
      state.outages.clear();
      return { kind: "commit", count: observed.count, skipped: observed.skipped };
    case "deadLettered":
      state.attempts.clear();
      state.outages.clear();
      return { kind: "commit", count: 1, skipped: 0 };
    case "applyFailed": {
      const { failure } = observed;
      const again = tryAgain(state, first, failure, cfg, random);
      if (again) return again;
      if (run.length > 1) {
        state.singleUntil = BigInt(run.at(-1)!.offset);
        // Each record of the run counts its own attempts from here.
        state.attempts.clear();
        state.outages.clear();
        return { kind: "split", reason: failure.message };
      }
      return {
        kind: "deadLetter",
        errorClass: failure.kind === "transient" ? "RetriesExhausted" : failure.name,
        errorMessage: failure.message,
        eventId: observed.eventId,
      };
    }
    case "deadLetterFailed": {
      const { failure } = observed;
      const again = tryAgain(state, first, failure, cfg, random);
      if (again) return again;
      return {
        kind: "park",
        reason: `cannot dead-letter offset ${first}: ${failure.message}`,
        retryMs: cfg.parkRetryMs,
      };
    }
  }
}

/**
 * The same for an apply and a dead letter: wait for the dependency's probe (infrastructure), or
 * retry with backoff while a transient failure has attempts left; undefined when neither.
 */
function tryAgain(
  state: PartitionState,
  first: string,
  failure: Failure,
  cfg: PolicyConfig,
  random: Random,
): Action | undefined {
  if (failure.kind === "infrastructure") {
    return waitFor(failure, nextAttempt(state.outages, first), cfg, random);
  }
  const attempt = nextAttempt(state.attempts, first);
  if (failure.kind === "transient" && attempt < cfg.maxAttempts) {
    return {
      kind: "retry",
      waitMs: backoffMs(attempt, cfg.transientCapMs, random),
      attempt,
      failure,
    };
  }
  return undefined;
}

function waitFor(failure: Failure, attempt: number, cfg: PolicyConfig, random: Random): Action {
  return {
    kind: "waitFor",
    dependency: failure.dependency,
    // The first retry goes as soon as the probe answers; later ones keep a short, growing floor.
    minWaitMs: attempt <= 1 ? 0 : backoffMs(attempt - 1, cfg.probeFloorCapMs, random),
    attempt,
    failure,
  };
}
