/**
 * One LISTEN connection per process, dispatching Postgres notifications (payload: a row's id) to
 * the in-memory waiters of their channel. Thousands of waiting requests cost this one connection
 * and no query: the request pool is free while they wait.
 *
 * Notifications are delivered on commit only, and only to a session already listening when the
 * notifying transaction commits; so `listening()` resolves once LISTEN has run, and a waiter
 * reads its row after that (and after registering). If the connection drops, notifications sent
 * meanwhile are lost: every waiter is woken to read its row again, and the next `listening()`
 * runs LISTEN on a fresh connection. A waiter whose wake never comes still reads at its timeout.
 */
import client from "prom-client";
import type { Sql } from "./db.ts";
import type { Logger } from "./log.ts";
import { registry } from "./metrics.ts";
import { Waiters } from "./waiters.ts";

const live = new Set<Notifications>();

/**
 * Requests waiting now (past their read), per channel: what `Prefer: wait` holds in memory, and
 * no connection.
 */
new client.Gauge({
  name: "waiting_requests",
  help: "Requests waiting for a notification (Prefer: wait), by channel",
  labelNames: ["channel"] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const n of live) {
      for (const [channel, waiters] of n.channels()) this.inc({ channel }, waiters.waiting);
    }
  },
});

/** What the listening pool must be opened with (`connect(url, { max: 1, ...handlers })`). */
export interface ListenHandlers {
  onnotify: (channel: string, payload: string) => void;
  onclose: () => void;
}

export class Notifications {
  readonly #channels: Map<string, Waiters>;
  readonly #sql: Sql;
  readonly #log: Logger;
  #listening: Promise<void> | undefined;
  #draining = false;

  /**
   * `open(handlers)`: a pool of one connection whose notifications and closes reach `handlers`
   * (it is opened now, but connects on the first `listening()`).
   */
  constructor(channels: readonly string[], open: (handlers: ListenHandlers) => Sql, log: Logger) {
    this.#channels = new Map(channels.map((c) => [c, new Waiters()]));
    this.#log = log;
    live.add(this);
    this.#sql = open({
      onnotify: (channel, payload) => this.#channels.get(channel)?.wake(payload),
      onclose: () => {
        // Anything notified from now until LISTEN runs again is lost: whoever waits reads again.
        this.#listening = undefined;
        for (const waiters of this.#channels.values()) waiters.wakeAll();
      },
    });
  }

  /** Every channel with its waiters. */
  channels(): IterableIterator<[string, Waiters]> {
    return this.#channels.entries();
  }

  /** The waiters of `channel` (one of the constructor's). */
  waiters(channel: string): Waiters {
    const waiters = this.#channels.get(channel);
    if (!waiters) throw new Error(`Notifications: unknown channel '${channel}'`);
    return waiters;
  }

  /**
   * Resolves once this process listens on every channel (at once when it already does). A
   * failure rejects this call only: the next one tries again.
   */
  listening(): Promise<void> {
    return this.#listening ??= (async () => {
      for (const channel of this.#channels.keys()) await this.#sql`listen ${this.#sql(channel)}`;
    })().catch((err) => {
      this.#listening = undefined;
      this.#log.warn("cannot listen for notifications", { error: String(err) });
      throw err;
    });
  }

  /** True once `drain()` was called: no request starts or resumes a wait. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Answers every waiting request now (each reads its row once more and answers as it finds it)
   * and lets no new one wait: a graceful stop waits for the requests in flight, and a request
   * waiting 30 s would otherwise hold it that long.
   */
  drain(): void {
    this.#draining = true;
    for (const waiters of this.#channels.values()) waiters.wakeAll();
  }

  async close(): Promise<void> {
    live.delete(this);
    await this.#sql.end({ timeout: 1 });
  }
}
