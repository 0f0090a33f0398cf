/** The API as a real process (its own port and log file), for tests that read its logs. */
import { API_ROLE, OPS_ROLE } from "../../src/roles.ts";
import { LOG_DIR } from "../../stack/components.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { JWT_SECRET } from "./api.ts";
import { childDatabasePasswords } from "./db_login.ts";
import { parseConfig } from "../../src/platform/config.ts";
import { listenPorts, permissionFlags } from "../../src/platform/permissions.ts";

export interface ApiProcess {
  url: string;
  /** Its internal ops port (metrics, health). */
  opsUrl: string;
  logPath: string;
  pid: number;
  /** SIGTERM (graceful) or SIGKILL (crash), then wait for the exit. */
  stop(opts?: { kill?: boolean }): Promise<void>;
}

/** Starts `src/main/api.ts`; `env` adds to or overrides its environment (e.g. DATABASE_URL). */
export async function startApiProcess(
  opts: { env?: Record<string, string> } = {},
): Promise<ApiProcess> {
  const freePort = () => {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    return port;
  };
  const port = freePort();
  const opsPort = freePort();
  const logPath = `${LOG_DIR}/test-api.log`;
  const log = await Deno.open(logPath, { create: true, append: true });
  const env: Record<string, string> = {
    PORT: String(port),
    API_OPS_PORT: String(opsPort),
    AUTH_JWT_SECRET: JWT_SECRET,
    ...opts.env,
  };
  Object.assign(env, childDatabasePasswords(env, API_ROLE, OPS_ROLE));
  // With the permissions `deno task api` gives it (src/platform/permissions.ts), computed from
  // the child's own configuration: the tests then show those permissions are enough.
  const cfg = parseConfig({ ...Deno.env.toObject(), ...env });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...permissionFlags("api", cfg, listenPorts("api", cfg), [API_ROLE, OPS_ROLE]),
      new URL("../../src/main/api.ts", import.meta.url).pathname,
    ],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) await log.write(chunk);
  };
  const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const url = `http://127.0.0.1:${port}`;
  const opsUrl = `http://127.0.0.1:${opsPort}`;
  const live = async (base: string) => {
    const res = await fetch(`${base}/health/live`);
    await res.body?.cancel();
    return res.ok;
  };
  await waitFor(async () => (await live(url)) && (await live(opsUrl)), {
    timeoutMs: 30_000,
    what: "the API process and its ops port",
  });
  return {
    url,
    opsUrl,
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
