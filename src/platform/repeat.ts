/**
 * Runs a job now and then again `everyMs` after each run ends (runs never overlap), until
 * stopped. A failing run is logged and the next one tries again: an unreachable database makes a
 * periodic job wait, never stop.
 */
import type { Logger } from "./log.ts";

export interface RepeatedJob {
  name: string;
  everyMs: number;
  /** One round; returns how many things it did (logged when > 0). */
  run: () => Promise<number>;
}

/**
 * Starts `job`; the returned function stops it and resolves once a run in progress has ended.
 * @example
 * const stop = repeat({ name: "sweep", everyMs: 1000, run: () => sweep(sql) }, log);
 * await stop();
 */
export function repeat(job: RepeatedJob, log: Logger): () => Promise<void> {
  if (!(job.everyMs > 0)) {
    throw new RangeError(
      `Cannot repeat '${job.name}' as 'everyMs' must be positive: current value is ${job.everyMs}`,
    );
  }
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();
  const round = async () => {
    try {
      const n = await job.run();
      if (n > 0) log.info("job done", { job: job.name, count: n });
    } catch (err) {
      log.warn("job failed; the next round retries", { job: job.name, error: err });
    }
    if (!stopped) timer = setTimeout(() => (running = round()), job.everyMs);
  };
  running = round();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}
