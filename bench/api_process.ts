/** An API process of the bench's own (`src/main/api.ts` on API_PORT), for wrk to load. */
import { waitFor } from "../src/platform/wait_for.ts";

export const API_PORT = 8091;
const here = new URL(".", import.meta.url).pathname;

export async function startApi(secret: string): Promise<Deno.ChildProcess> {
  const p = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${here}../src/main/api.ts`],
    env: { ...Deno.env.toObject(), PORT: String(API_PORT), AUTH_JWT_SECRET: secret },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitFor(async () => (await fetch(`http://127.0.0.1:${API_PORT}/health/ready`)).ok, {
    timeoutMs: 30_000,
    what: "the API to be ready",
  });
  return p;
}

/**
 * Stops an API process the bench started, and waits for it. One that exited already (it could
 * not listen, or crashed) is no error here: the run's own error says what went wrong, and the
 * clean-up after it (its connections closed) still runs.
 */
export async function stopApi(p: Deno.ChildProcess): Promise<void> {
  try {
    p.kill("SIGTERM");
  } catch {
    // exited already
  }
  await p.status;
}
