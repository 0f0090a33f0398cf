/**
 * Waits until a dependency answers again: one probe loop per dependency, shared by every paused
 * partition waiting on it, polling every `intervalMs` while someone waits and not at all
 * otherwise. A partition paused because the database went away resumes within one interval of
 * the database answering, instead of after a blind, growing backoff.
 */
import { trackedSleep } from "./wait_for.ts";
import type { Dependency } from "./errors.ts";

/** A cheap check that resolves when the dependency works and rejects (or hangs) when not. */
export type Probe = () => Promise<unknown>;

export interface ProbeWaiter {
  /** Resolves once a probe of `dependency` succeeds after this call, or when stopped. */
  until(dependency: Dependency): Promise<void>;
  /** Waiters currently waiting, per dependency (for status and tests). */
  waiting(): Record<Dependency, number>;
  /** Ends every loop; pending waits resolve (the caller checks whether it is stopping). */
  stop(): void;
}

export interface ProbeWaiterOptions {
  /** Pause between failed probes. @default 250 */
  intervalMs?: number;
  /** A probe that has not answered after this long counts as failed. @default 2000 */
  timeoutMs?: number;
  /** Called after each failed probe, with how long the dependency has been waited for. */
  onFailure?: (dependency: Dependency, error: unknown, waitedMs: number) => void;
  /** Called when a probe succeeds after waiting. */
  onRecovered?: (dependency: Dependency, waitedMs: number) => void;
}

export function probeWaiter(
  probes: Record<Dependency, Probe>,
  options: ProbeWaiterOptions = {},
): ProbeWaiter {
  const intervalMs = options.intervalMs ?? 250;
  const timeoutMs = options.timeoutMs ?? 2000;
  const waiters: Record<Dependency, (() => void)[]> = { database: [], kafka: [] };
  const looping = new Set<Dependency>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let stopped = false;

  const sleep = (ms: number) => trackedSleep(timers, ms);

  const attempt = async (probe: Probe): Promise<unknown> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`probe timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([probe(), timeout]);
      return undefined;
    } catch (err) {
      return err ?? new Error("probe failed");
    } finally {
      clearTimeout(timer);
    }
  };

  const loop = async (dependency: Dependency) => {
    looping.add(dependency);
    const started = performance.now();
    try {
      while (!stopped && waiters[dependency].length > 0) {
        const error = await attempt(probes[dependency]);
        if (stopped) break;
        const waitedMs = Math.round(performance.now() - started);
        if (error === undefined) {
          options.onRecovered?.(dependency, waitedMs);
          for (const wake of waiters[dependency].splice(0)) wake();
          break;
        }
        options.onFailure?.(dependency, error, waitedMs);
        await sleep(intervalMs);
      }
    } finally {
      // Synchronous from the last check on: a waiter arriving later finds no loop and starts one.
      looping.delete(dependency);
    }
  };

  return {
    until(dependency) {
      if (stopped) return Promise.resolve();
      const wait = new Promise<void>((resolve) => waiters[dependency].push(resolve));
      if (!looping.has(dependency)) loop(dependency);
      return wait;
    },
    waiting: () => ({ database: waiters.database.length, kafka: waiters.kafka.length }),
    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const d of ["database", "kafka"] as const) {
        for (const wake of waiters[d].splice(0)) wake();
      }
    },
  };
}
