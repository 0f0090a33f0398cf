/**
 * W3C trace context (traceparent `00-<trace id>-<span id>-<flags>`): continued where a valid one
 * arrives, started otherwise. The API starts or continues one per request, stores it with each
 * outbox row, Debezium carries it as a header, and each worker continues it with a child span,
 * so one trace id follows an order across every process's log lines.
 */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function hex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** The trace id of a valid traceparent, else undefined. */
export function traceIdOf(traceparent: string | undefined | null): string | undefined {
  const m = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return undefined;
  return m[1];
}

/** A new span in the same trace as `parent`, or the root of a new trace. */
export function childTraceparent(parent: string | undefined | null): string {
  return `00-${traceIdOf(parent) ?? hex(16)}-${hex(8)}-01`;
}
