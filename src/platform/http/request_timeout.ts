/**
 * Answers 503 problem+json with `Retry-After` when a request has no answer within `ms`: a
 * database that hangs (connections open, nothing answers) must not hang the API's clients too.
 * The handler is not cancelled (a query in flight cannot be); its late result is discarded. A
 * client that retries a write after a 503 should use an Idempotency-Key, as after any failure.
 */
import type { MiddlewareHandler } from "hono";
import { HttpProblem } from "./problem.ts";

export function requestTimeout(ms: number): MiddlewareHandler {
  if (!(ms > 0)) {
    throw new RangeError(
      `Cannot time out requests as 'ms' must be positive: current value is ${ms}`,
    );
  }
  return async (_c, next) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new HttpProblem(503, `No answer within ${ms} ms; retry shortly`, {}, {
              "retry-after": "5",
            }),
          ),
        ms,
      );
    });
    try {
      await Promise.race([next(), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  };
}
