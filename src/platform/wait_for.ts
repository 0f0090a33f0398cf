/**
 * Polls a condition until it holds or a deadline passes: the only way this project waits for
 * another process (never a fixed sleep).
 */
export interface WaitForOptions {
  /** Give up after this many milliseconds. @default 30000 */
  timeoutMs?: number;
  /** Pause between checks. @default 100 */
  intervalMs?: number;
  /** What is awaited, for the timeout message. @default "condition" */
  what?: string;
}

/** Thrown when the deadline passes; carries the last error the condition threw, if any. */
export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/**
 * Resolves with the first truthy value of `condition`; errors thrown by it count as "not yet".
 * @example
 * await waitFor(async () => (await countRows()) === 100, { timeoutMs: 10_000, what: "100 rows" });
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 30_000, intervalMs = 100, what = "condition" } = options;
  if (!(timeoutMs > 0)) {
    throw new RangeError(
      `Cannot wait as 'timeoutMs' must be positive: current value is ${timeoutMs}`,
    );
  }
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() >= deadline) {
      const cause = lastError instanceof Error ? `; last error: ${lastError.message}` : "";
      throw new TimeoutError(`Timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * A sleep whose timer is kept in `timers` until it fires, so an owner that stops can clear every
 * pending one (`for (const t of timers) clearTimeout(t)`); a cleared sleep never resolves.
 */
export function trackedSleep(
  timers: Set<ReturnType<typeof setTimeout>>,
  ms: number,
): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      timers.delete(t);
      resolve();
    }, ms);
    timers.add(t);
  });
}
