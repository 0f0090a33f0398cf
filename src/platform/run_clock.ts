/**
 * The database's clock as a run read it (`date_trunc('milliseconds', now())`, the transaction's
 * start): handlers that decide a run in memory compare deadlines with it, as a statement would
 * with `now()`. Deadlines are whole milliseconds, so comparing with the truncated clock gives
 * the same answer as comparing with `now()` itself.
 */
export interface RunClock {
  now: Date;
}

/** Whether `deadlineAt` (ISO 8601; none: never) has come by the run's clock. */
export function isPastDeadline(clock: RunClock, deadlineAt: string | null | undefined): boolean {
  return deadlineAt != null && clock.now.getTime() >= Date.parse(deadlineAt);
}
