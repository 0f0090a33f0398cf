/**
 * Which stack the end-to-end tests run against, from the environment, so the same suite runs on
 * the local stack (the default: the tests start the workers and call the API in-process) or on
 * any running stack, e.g. `docker compose up -d && deno task test:e2e`:
 * - DATABASE_URL, KAFKA_BROKERS, KAFKA_CONNECT_URL: the stack (as for every process);
 * - E2E_WORKERS: `tests` (default: each test starts the five worker processes it needs) or
 *   `external` (they already run against that stack; tests that must stop, kill or read a worker
 *   of their own are skipped);
 * - E2E_API_URL: an API that already runs (default: the tests' own, in-process); its
 *   AUTH_JWT_SECRET must be in the tests' environment too, to sign their tokens.
 */
const workersMode = Deno.env.get("E2E_WORKERS") || "tests";
if (workersMode !== "tests" && workersMode !== "external") {
  throw new Error(
    `Cannot use E2E_WORKERS as it must be tests or external: current value is ${
      JSON.stringify(workersMode)
    }`,
  );
}

/** The workers already run against the stack: tests neither start nor stop them. */
export const EXTERNAL_WORKERS = workersMode === "external";

/** The URL of an API that already runs, or undefined (the tests run their own). */
export const EXTERNAL_API_URL: string | undefined =
  Deno.env.get("E2E_API_URL")?.replace(/\/+$/, "") || undefined;

/**
 * Options for a test that needs worker processes of its own (it stops, kills or reads one):
 * skipped when the workers are external.
 */
export const ownWorkers = { ignore: EXTERNAL_WORKERS } as const;
