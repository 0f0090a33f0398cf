/**
 * The stall of a fault: how long the mix's requests placed just after the fault's destructive
 * action (its mark: the kill, the stop, the pause) waited for their outcome. What a user feels is
 * the worst wait, not the first answer: in a cluster only the partitions led by a killed broker
 * stop, and a "first decision after the fault" hides them behind the partitions that kept going.
 *
 * Each request of the mix placed in the window [mark, mark + windowMs) waits, from its slot in
 * the mix's schedule (the open loop's, so a request held back by the in-flight cap waited too):
 * - an order or FCFS request the API accepted: until its decision by effect (confirmed, or
 *   cancelled/rejected by a participant's answer); a decision by the deadline sweep (TIMEOUT) or
 *   none counts as timed out: the stall is then "> deadline", never a small number;
 * - a charge (answered synchronously): until its 2xx answer;
 * - a request refused or unreachable (API down, 503 while the database is away): until the
 *   outcome of the next accepted request of the same kind, as if its user retried at once.
 * The stall is the worst of those waits; it includes the normal latency, which the notes give
 * from the seconds before the fault (`baseline`).
 */
import type { Attempt } from "./load_driver.ts";

/** An order's or FCFS request's end, from the database. */
export interface Decision {
  /** Epoch ms of the decision (updated_at), undefined while PENDING. */
  decidedAt?: number;
  /** Decided by the deadline sweep (TIMEOUT), not by a participant's answer. */
  timedOut: boolean;
}

export interface Stall {
  /** Requests of the mix placed in the window. */
  placed: number;
  /** Of them, refused or unreachable. */
  refused: number;
  /** Of them, timed out or never decided (directly, or the accepted request a refused one waits on). */
  timedOut: number;
  /** The worst wait (ms) among the others; 0 if none. */
  worstMs: number;
  /** The median wait (ms) among the others; 0 if none. */
  medianMs: number;
  /**
   * From `from` to the first outcome of a request placed in the window (what the former
   * "recovery" measured: it hides stopped partitions behind the others); undefined if none.
   */
  firstMs?: number;
}

/** The outcome time of an accepted attempt, or undefined if it timed out or never ended. */
function doneAt(a: Attempt, decisions: Map<string, Decision>): number | undefined {
  if (a.doneAt !== undefined) return a.doneAt;
  const d = a.id ? decisions.get(a.id) : undefined;
  return d && !d.timedOut ? d.decidedAt : undefined;
}

/** The waits of the attempts placed in [from, to) (see above). */
export function stall(
  attempts: Attempt[],
  decisions: Map<string, Decision>,
  from: number,
  to: number,
): Stall {
  const sorted = [...attempts].sort((a, b) => a.at - b.at);
  const waits: number[] = [];
  let placed = 0, refused = 0, timedOut = 0, first = Infinity;
  for (const [i, a] of sorted.entries()) {
    if (a.at < from || a.at >= to) continue;
    placed++;
    let served: Attempt | undefined = a;
    if (a.id === undefined && a.doneAt === undefined) {
      refused++;
      served = sorted.slice(i + 1).find((b) =>
        b.kind === a.kind && (b.id !== undefined || b.doneAt !== undefined)
      );
    }
    const end = served && doneAt(served, decisions);
    if (end === undefined) timedOut++;
    else {
      waits.push(Math.max(0, end - a.at));
      if (served === a) first = Math.min(first, end);
    }
  }
  waits.sort((x, y) => x - y);
  return {
    placed,
    refused,
    timedOut,
    worstMs: waits.at(-1) ?? 0,
    medianMs: waits[Math.floor(waits.length / 2)] ?? 0,
    firstMs: first === Infinity ? undefined : Math.max(0, first - from),
  };
}
