/**
 * One classifier for every failure, shared by the consumers and the API:
 *
 * - `infrastructure`: a dependency is unreachable, resolving, restarting, full or read-only
 *   (network and name-resolution errors, postgres.js connection errors, SQLSTATE classes 08, 53,
 *   57 except 57014, 58, and 25006). Nothing is wrong with the record or the request: consumers
 *   wait with backoff however long it takes (never dead-letter), the API answers 503 with
 *   `Retry-After`.
 * - `transient`: the database refused this attempt but the next may pass (serialization
 *   failure, deadlock, lock timeout, statement timeout): a few retries with jitter, then the DLQ.
 * - `data`: the record or the statement itself is wrong (undecodable, schema-invalid, or a
 *   deterministic SQL error such as 22xxx, 23xxx, 42xxx, or a bug): retrying cannot help, so the
 *   record goes to the DLQ at once.
 */
export type ErrorKind = "infrastructure" | "transient" | "data";

const NOT_VISIBLE_YET = "NOT_VISIBLE_YET";

/**
 * A row an event refers to is not there (yet). Transient, not data: logical decoding can hand a
 * transaction to Debezium the moment its commit record is flushed, a moment before the commit is
 * visible to other sessions; on a loaded machine a consumer has met an event tens of
 * milliseconds before its producer's rows (the fault suite saw a FCFS request dead-lettered as
 * "not found" that way). A few retries outlast that window; a row that never appears still ends
 * in the DLQ.
 */
export class NotVisibleYet extends Error {
  override name = "NotVisibleYet";
  readonly code = NOT_VISIBLE_YET;
}

/** Node/Deno network and name-resolution codes, and postgres.js's own connection codes. */
const INFRASTRUCTURE_CODES = new Set([
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_NONAME",
  "EAI_FAIL",
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTCONN",
  "EADDRNOTAVAIL",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

/** Deno's own error classes for the same failures (when no Node code is attached). */
const INFRASTRUCTURE_NAMES = new Set([
  "ConnectionRefused",
  "ConnectionReset",
  "ConnectionAborted",
  "NotConnected",
  "AddrNotAvailable",
  "BrokenPipe",
  "TimedOut",
]);

const KAFKA_UNREACHABLE = new Set([
  "KafkaJSConnectionError",
  "KafkaJSConnectionClosedError",
  "KafkaJSRequestTimeoutError",
  "KafkaJSNumberOfRetriesExceeded",
  "KafkaJSBrokerNotFound",
  "KafkaJSGroupCoordinatorNotFound",
  "KafkaJSLockTimeout",
]);

const TRANSIENT_SQLSTATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
  "57014", // query_canceled (statement_timeout)
]);

const SQLSTATE = /^[0-9A-Z]{5}$/;

function kindOfCode(code: string): ErrorKind | undefined {
  if (code === NOT_VISIBLE_YET) return "transient";
  if (INFRASTRUCTURE_CODES.has(code)) return "infrastructure";
  if (code.startsWith("CONNECTION_")) return "infrastructure";
  if (!SQLSTATE.test(code)) return undefined;
  if (TRANSIENT_SQLSTATES.has(code)) return "transient";
  if (code === "25006") return "infrastructure"; // read_only_sql_transaction: a failover
  const cls = code.slice(0, 2);
  if (cls === "08" || cls === "53" || cls === "57" || cls === "58") return "infrastructure";
  return "data";
}

/**
 * The kind of `err`, looking through `cause` chains and aggregate errors (a failed connect
 * reports every address it tried). kafkajs errors count as infrastructure: a producer or admin
 * call fails only when the cluster cannot be reached or is electing leaders.
 */
export function classifyError(err: unknown): ErrorKind {
  const seen = new Set<unknown>();
  let found: ErrorKind | undefined;
  const visit = (e: unknown): void => {
    if (e === null || typeof e !== "object" || seen.has(e)) return;
    seen.add(e);
    const { code, name, cause, errors } = e as {
      code?: unknown;
      name?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    const k = typeof code === "string" ? kindOfCode(code) : undefined;
    if (k === "infrastructure") found = k;
    else if (k && !found) found = k;
    if (typeof name === "string" && INFRASTRUCTURE_NAMES.has(name)) found = "infrastructure";
    if (typeof name === "string" && name.startsWith("KafkaJS")) {
      // kafkajs marks what can never succeed (a record too large, an unknown topic) as not
      // retriable; its connection, timeout and retries-exhausted errors mean "unreachable".
      const retriable = (e as { retriable?: unknown }).retriable;
      if (retriable !== false || KAFKA_UNREACHABLE.has(name)) found = "infrastructure";
      else if (!found) found = "data";
    }
    visit(cause);
    if (Array.isArray(errors)) errors.forEach(visit);
  };
  visit(err);
  return found ?? "data";
}

/** Which dependency a failure came from: what a paused partition waits for. */
export type Dependency = "database" | "kafka";

/** `kafka` when a kafkajs error is anywhere in `err`'s chain, else `database`. */
export function dependencyOf(err: unknown): Dependency {
  const seen = new Set<unknown>();
  const visit = (e: unknown): boolean => {
    if (e === null || typeof e !== "object" || seen.has(e)) return false;
    seen.add(e);
    const { name, cause, errors } = e as { name?: unknown; cause?: unknown; errors?: unknown };
    if (typeof name === "string" && name.startsWith("KafkaJS")) return true;
    return visit(cause) || (Array.isArray(errors) && errors.some(visit));
  };
  return visit(err) ? "kafka" : "database";
}
