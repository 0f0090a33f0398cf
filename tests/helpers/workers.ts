/**
 * Runs the real worker processes (`src/worker.ts <name>`) for end-to-end tests, with their logs
 * in .stack/logs/test-<name>.log, and lets a test kill or restart one.
 */
import { LOG_DIR } from "../../stack/components.ts";
import { WORKERS } from "../../src/worker.ts";
import { waitFor } from "../../src/platform/wait_for.ts";

const WORKER_TS = new URL("../../src/worker.ts", import.meta.url).pathname;

interface Running {
  child: Deno.ChildProcess;
  log: Deno.FsFile;
  exited: Promise<Deno.CommandStatus>;
  /** The ops port (health, metrics) the worker chose. */
  port: number;
}

export class Workers {
  #running = new Map<string, Running>();
  #env: Record<string, string>;

  /** `env`: extra environment for every worker (e.g. a DATABASE_URL of the test's own). */
  constructor(env: Record<string, string> = {}) {
    this.#env = env;
  }

  /** Starts `names` (default: all five) and waits until each says it is consuming. */
  async start(...names: string[]): Promise<void> {
    await Deno.mkdir(LOG_DIR, { recursive: true });
    await Promise.all((names.length ? names : WORKERS).map((n) => this.#startOne(n)));
  }

  async #startOne(name: string): Promise<void> {
    if (this.#running.has(name)) return;
    const path = `${LOG_DIR}/test-${name}.log`;
    const log = await Deno.open(path, { create: true, append: true });
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", WORKER_TS, name],
      // Port 0: any free port, so tests never collide with a `deno task dev` on this machine.
      env: { LOG_LEVEL: "info", WORKER_PORT: "0", ...this.#env },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let consuming = false;
    let port = 0;
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) {
        const text = new TextDecoder().decode(chunk);
        if (!consuming && text.includes('"msg":"consuming"')) consuming = true;
        const m = /"msg":"ops endpoints listening"[^\n]*"port":(\d+)/.exec(text);
        if (m) port = Number(m[1]);
        await log.write(chunk);
      }
    };
    const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);
    const exited = pumped.then(() => child.status);
    const running: Running = { child, log, exited, port: 0 };
    this.#running.set(name, running);
    await waitFor(() => consuming && port > 0, {
      timeoutMs: 60_000,
      what: `worker ${name} to consume and serve its ops port (log: ${path})`,
    });
    running.port = port;
  }

  /** Stops one worker: SIGTERM (graceful) or SIGKILL (crash). */
  async stop(name: string, opts: { kill?: boolean } = {}): Promise<Deno.CommandStatus | undefined> {
    const r = this.#running.get(name);
    if (!r) return undefined;
    this.#running.delete(name);
    try {
      r.child.kill(opts.kill ? "SIGKILL" : "SIGTERM");
    } catch { /* already gone */ }
    const status = await r.exited;
    r.log.close();
    return status;
  }

  /** The ops port of a running worker. */
  port(name: string): number {
    const r = this.#running.get(name);
    if (!r) throw new Error(`worker ${name} is not running`);
    return r.port;
  }

  /** Its log file (every test run appends). */
  logPath(name: string): string {
    return `${LOG_DIR}/test-${name}.log`;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#running.keys()].map((n) => this.stop(n)));
  }
}
