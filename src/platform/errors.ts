/**
 * How a consumer treats a failure: `unavailable` (the database is unreachable: wait, however
 * long), `transient` (serialization failure, deadlock, lock timeout: retry a few times), or
 * `fatal` (anything else: the record goes to the DLQ).
 */
export type ErrorKind = "unavailable" | "transient" | "fatal";

const UNAVAILABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
]);
const TRANSIENT = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
]);

export function classifyError(err: unknown): ErrorKind {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && UNAVAILABLE.has(code)) return "unavailable";
  if (typeof code === "string" && TRANSIENT.has(code)) return "transient";
  return "fatal";
}

/**
 * Exponential backoff with full jitter: a random delay in [0, min(cap, 100 ms * 2^attempt)].
 * @example
 * await sleep(backoffMs(attempt, 5000));
 */
export function backoffMs(attempt: number, capMs: number): number {
  const ceiling = Math.min(capMs, 100 * 2 ** Math.min(attempt, 16));
  return Math.round(Math.random() * ceiling);
}
