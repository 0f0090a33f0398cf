/** The API as a real process (its own port and log file), for tests that read its logs. */
import { LOG_DIR } from "../../stack/components.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { JWT_SECRET } from "./api.ts";

export interface ApiProcess {
  url: string;
  logPath: string;
  pid: number;
  /** SIGTERM (graceful) or SIGKILL (crash), then wait for the exit. */
  stop(opts?: { kill?: boolean }): Promise<void>;
}

/** Starts `src/main/api.ts`; `env` adds to or overrides its environment (e.g. DATABASE_URL). */
export async function startApiProcess(
  opts: { env?: Record<string, string> } = {},
): Promise<ApiProcess> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const logPath = `${LOG_DIR}/test-api.log`;
  const log = await Deno.open(logPath, { create: true, append: true });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../src/main/api.ts", import.meta.url).pathname],
    env: { PORT: String(port), AUTH_JWT_SECRET: JWT_SECRET, ...opts.env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) await log.write(chunk);
  };
  const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/health/live`)).ok, {
    timeoutMs: 30_000,
    what: "the API process",
  });
  return {
    url,
    logPath,
    pid: child.pid,
    async stop(opts = {}) {
      child.kill(opts.kill ? "SIGKILL" : "SIGTERM");
      await child.status;
      await pumped.catch(() => {});
      log.close();
    },
  };
}
