/**
 * `Prefer: wait=N` (RFC 7240) on a read of something decided asynchronously: the answer comes as
 * soon as the row leaves its pending state, or after N seconds with it still pending, instead of
 * the client polling. A larger N is clamped to MAX_WAIT_S and an unparsable one ignored, as RFC
 * 7240 lets a server do with any preference (docs/decisions.md, "Prefer: wait").
 *
 * While it waits the request holds no database connection and runs no query: it is one waiter
 * in memory, woken by a notification on commit of the change (`notifications.ts`).
 */
import type { Context } from "hono";
import { z } from "zod";
import type { AppEnv } from "./env.ts";
import type { Notifications } from "../notifications.ts";

/** The longest wait honoured, in seconds; a larger `wait` is served as this one. */
export const MAX_WAIT_S = 30;

/**
 * The `wait` preference of a `Prefer` header value (several headers joined by commas, as fetch
 * joins them), clamped to MAX_WAIT_S; undefined when absent or not delta-seconds. Only the first
 * `wait` counts (RFC 7240 section 2); names are case-insensitive, the value may be quoted.
 */
export function preferredWait(header: string | null | undefined): number | undefined {
  if (!header) return undefined;
  // A preference ends at a comma outside a quoted string; its parameters follow `;`.
  for (const preference of header.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
    const [head] = preference.split(";");
    const m = /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*(.*?)\s*)?$/.exec(head);
    if (!m || m[1].toLowerCase() !== "wait") continue;
    const value = (m[2] ?? "").replace(/^"(.*)"$/, "$1");
    if (!/^\d+$/.test(value)) return undefined;
    return Math.min(Number(value), MAX_WAIT_S);
  }
  return undefined;
}

/** The route's request headers in the OpenAPI document (`request: { headers: PreferHeaders }`). */
export const PreferHeaders = z.object({
  prefer: z.string().optional().meta({
    description: `RFC 7240. \`wait=N\`: answer as soon as the resource is decided, or after N ` +
      `seconds with it still PENDING, instead of polling. N above ${MAX_WAIT_S} is served as ` +
      `${MAX_WAIT_S}; a value that is not a whole number of seconds is ignored (no wait).`,
    example: "wait=10",
  }),
});

/** The 200's headers in the OpenAPI document. */
export const preferenceAppliedHeader = {
  "Preference-Applied": {
    description:
      "`wait=N` (N as served, at most 30) when the request's `Prefer: wait` was honoured",
    schema: { type: "string" as const, example: "wait=10" },
  },
};

/** How a route reads its row and tells a pending one, for `readWithPreferredWait`. */
export interface PendingRead<T> {
  notifications: Notifications | undefined;
  /** The channel the row's decision is notified on (payload: `id`). */
  channel: string;
  id: string;
  /** One pooled read; undefined when the row is not there (or not the caller's). */
  read: () => Promise<T | undefined>;
  isPending: (row: T) => boolean;
}

/**
 * Reads the row, and if the request prefers to wait and the row is pending, waits for its
 * decision (or the preferred seconds, or the client leaving) and reads it again. `headers` carry
 * `Preference-Applied` when the preference was honoured. The wait itself is exempt from the
 * request timeout; each read is not.
 */
export async function readWithPreferredWait<T>(
  c: Context<AppEnv>,
  { notifications, channel, id, read, isPending }: PendingRead<T>,
): Promise<{ row: T | undefined; headers: Record<string, string> }> {
  const seconds = preferredWait(c.req.header("prefer"));
  if (seconds === undefined || !notifications) return { row: await read(), headers: {} };
  const deadline = performance.now() + seconds * 1000;
  const waiters = notifications.waiters(channel);
  const signal = c.req.raw.signal;
  for (let first = true;; first = false) {
    // Registered before the read: a decision committed between the read and the wait wakes it.
    const waiter = waiters.register(id);
    try {
      try {
        await notifications.listening();
      } catch {
        // Without LISTEN no wake can come: the first time, answer at once without honouring the
        // preference; later (the connection broke mid-wait), the timeout still answers.
        if (first) return { row: await read(), headers: {} };
      }
      const row = await read();
      const left = deadline - performance.now();
      if (!row || !isPending(row) || left <= 0 || signal.aborted || notifications.draining) {
        return { row, headers: { "preference-applied": `wait=${seconds}` } };
      }
      const end = await c.get("requestClock").exempt(waiter.wait(left, signal));
      // Nobody reads the answer to a client that left: no second read for it.
      if (end === "aborted") return { row, headers: {} };
    } finally {
      waiter.cancel();
    }
  }
}
