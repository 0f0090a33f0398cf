/**
 * In-memory waiters keyed by id: a request that waits for a row to change registers here and is
 * woken by whoever learns of the change (a database notification, `notifications.ts`). Waiting
 * costs a timer and a closure: no query, no connection.
 */

/** Why a wait ended. */
export type WaitEnd = "woken" | "timeout" | "aborted";

/** One registration: woken from the moment it is made, so a wake during a read is not lost. */
export interface Waiter {
  /** Resolves on the first of: a wake (since registration), `ms` elapsed, `signal` aborted. */
  wait(ms: number, signal?: AbortSignal): Promise<WaitEnd>;
  /** Unregisters (idempotent); call it in `finally`. */
  cancel(): void;
}

export class Waiters {
  readonly #byId = new Map<string, Set<() => void>>();
  #waiting = 0;

  /** How many registrations are open, over all ids. */
  get size(): number {
    let n = 0;
    for (const set of this.#byId.values()) n += set.size;
    return n;
  }

  /**
   * How many are inside `wait()` now: past their read, holding nothing but memory (the gauge, and
   * what tests check). A registration still reading its row is not counted.
   */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Registers a waiter for `id` now. Register BEFORE reading the row: a change committed between
   * the read and the registration would otherwise wake nobody.
   */
  register(id: string): Waiter {
    let wake!: () => void;
    const woken = new Promise<"woken">((resolve) => wake = () => resolve("woken"));
    const set = this.#byId.get(id) ?? new Set();
    set.add(wake);
    this.#byId.set(id, set);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    let signal: AbortSignal | undefined;
    const cancel = () => {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
      const current = this.#byId.get(id);
      if (!current) return;
      current.delete(wake);
      if (current.size === 0) this.#byId.delete(id);
    };
    return {
      cancel,
      wait: (ms, abort) => {
        signal = abort;
        if (abort?.aborted) return Promise.resolve("aborted");
        const ended = new Promise<WaitEnd>((resolve) => {
          timer = setTimeout(() => resolve("timeout"), Math.max(0, ms));
          onAbort = () => resolve("aborted");
          abort?.addEventListener("abort", onAbort, { once: true });
        });
        this.#waiting++;
        return Promise.race([woken, ended]).finally(() => {
          this.#waiting--;
          cancel();
        });
      },
    };
  }

  /** Wakes every waiter of `id` (none: nothing happens). */
  wake(id: string): void {
    const set = this.#byId.get(id);
    if (!set) return;
    this.#byId.delete(id);
    for (const wake of set) wake();
  }

  /**
   * Wakes every waiter: after the notification stream broke, any of them may have missed its
   * change, so each reads its row again.
   */
  wakeAll(): void {
    const all = [...this.#byId.values()];
    this.#byId.clear();
    for (const set of all) for (const wake of set) wake();
  }
}
