/**
 * Answers 503 problem+json with `Retry-After` when a request has no answer within `ms`: a
 * database that hangs (connections open, nothing answers) must not hang the API's clients too.
 * The handler is not cancelled (a query in flight cannot be); its late result is discarded. A
 * client that retries a write after a 503 should use an Idempotency-Key, as after any failure.
 *
 * A handler may exempt part of its time (`c.get("requestClock").exempt(promise)`): a request that
 * waits on purpose (`Prefer: wait`) is not hung while it waits, but its database work before and
 * after the wait still counts against the same `ms`.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";
import { HttpProblem } from "./problem.ts";

/** The request's timeout clock, as the handler sees it. */
export interface RequestClock {
  /** Runs `work` with the clock stopped: its time does not count against the timeout. */
  exempt<T>(work: Promise<T>): Promise<T>;
}

export function requestTimeout(ms: number): MiddlewareHandler<AppEnv> {
  if (!(ms > 0)) {
    throw new RangeError(
      `Cannot time out requests as 'ms' must be positive: current value is ${ms}`,
    );
  }
  return async (c, next) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let remaining = ms;
    let startedAt = 0;
    let exempted = 0;
    let finished = false;
    let fire!: (err: HttpProblem) => void;
    const timedOut = new Promise<never>((_, reject) => fire = reject);
    const start = () => {
      if (finished) return;
      startedAt = performance.now();
      timer = setTimeout(
        () =>
          fire(
            new HttpProblem(503, `No answer within ${ms} ms; retry shortly`, {}, {
              "retry-after": "5",
            }),
          ),
        Math.max(0, remaining),
      );
    };
    c.set("requestClock", {
      async exempt(work) {
        if (exempted++ === 0) {
          clearTimeout(timer);
          remaining -= performance.now() - startedAt;
        }
        try {
          return await work;
        } finally {
          if (--exempted === 0) start();
        }
      },
    });
    start();
    try {
      await Promise.race([next(), timedOut]);
    } finally {
      finished = true;
      clearTimeout(timer);
    }
  };
}
