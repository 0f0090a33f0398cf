/**
 * Runs the real worker processes (`src/main/worker.ts <name>`) for end-to-end tests, with their logs
 * in .stack/logs/test-<name>.log (instance 2 and later: test-<name>-<n>.log), and lets a test
 * kill or restart one. `replicas` instances of each consumer group run at once when asked; they
 * join the same group, so Kafka spreads its partitions across them. Each instance has a stable
 * index (WORKER_INSTANCE): a static member, which a stop or kill leaves in the group until its
 * restart or its session timeout (src/platform/consumer.ts, STATIC_SESSION_TIMEOUT_MS).
 */
import { parseConfig } from "../../src/platform/config.ts";
import { listenPorts, permissionFlags } from "../../src/platform/permissions.ts";
import { LOG_DIR } from "../../stack/components.ts";
import { SERVICES, WORKERS } from "../../src/workers.ts";
import { TimeoutError, waitFor } from "../../src/platform/wait_for.ts";
import { childDatabasePasswords } from "./db_login.ts";

const WORKER_TS = new URL("../../src/main/worker.ts", import.meta.url).pathname;

interface Running {
  child: Deno.ChildProcess;
  log: Deno.FsFile;
  exited: Promise<Deno.CommandStatus>;
  /** The ops port (health, metrics) the worker chose. */
  port: number;
}

/** Which instances of a worker: one (1-based), or every one (undefined). */
export interface InstanceOpts {
  instance?: number;
}

export class Workers {
  /** By `<name>#<instance>`. */
  #running = new Map<string, Running>();
  #env: Record<string, string>;
  readonly replicas: number;

  /**
   * `env`: extra environment for every worker (e.g. a DATABASE_URL of the test's own);
   * `replicas`: instances of each consumer group that `start` runs (default 1).
   */
  /** Every consumer group in one worker process (`start()` only; the bench compares it). */
  readonly oneProcess: boolean;

  constructor(
    env: Record<string, string> = {},
    opts: { replicas?: number; oneProcess?: boolean } = {},
  ) {
    this.#env = env;
    this.replicas = opts.replicas ?? 1;
    this.oneProcess = opts.oneProcess ?? false;
  }

  #instances(opts: InstanceOpts): number[] {
    return opts.instance !== undefined
      ? [opts.instance]
      : Array.from({ length: this.replicas }, (_, i) => i + 1);
  }

  /**
   * Starts every instance of `names` (default: all five) that is not running and waits until
   * each says it is consuming.
   */
  async start(...names: string[]): Promise<void> {
    await Deno.mkdir(LOG_DIR, { recursive: true });
    if (this.oneProcess) return await this.#startOne((names.length ? names : WORKERS).join(" "), 1);
    await Promise.all(
      (names.length ? names : WORKERS).flatMap((n) =>
        this.#instances({}).map((i) => this.#startOne(n, i))
      ),
    );
  }

  /** Starts one instance (1-based) of `name`, e.g. again after `stop(name, { instance })`. */
  async startInstance(name: string, instance: number): Promise<void> {
    await Deno.mkdir(LOG_DIR, { recursive: true });
    await this.#startOne(name, instance);
  }

  /**
   * `name`: a worker, or several separated by spaces (one process for all of them). A start has
   * hung once in about 260 in CI (2026-12-06: a payment worker made its Kafka producer, then
   * logged nothing for 61 s, and the broker saw no JoinGroup from it; cause not found): a start
   * that has not consumed after 30 s is killed and made once more, with a warning in the test's
   * output, rather than failing the test that needed the worker. A second hang fails it.
   */
  async #startOne(name: string, instance: number): Promise<void> {
    const key = `${name}#${instance}`;
    if (this.#running.has(key)) return;
    try {
      await this.#spawn(name, instance, 30_000);
    } catch (err) {
      const hung = this.#running.get(key);
      if (!(err instanceof TimeoutError) || !hung) throw err;
      console.warn(`worker ${key} did not start in 30 s; killed and started once more (${err})`);
      this.#running.delete(key);
      try {
        hung.child.kill("SIGKILL");
      } catch { /* already gone */ }
      await hung.exited;
      hung.log.close();
      await this.#spawn(name, instance, 60_000);
    }
  }

  async #spawn(name: string, instance: number, timeoutMs: number): Promise<void> {
    const key = `${name}#${instance}`;
    const names = name.split(" ");
    const path = this.logPath(names.length > 1 ? "one-process" : name, instance);
    const log = await Deno.open(path, { create: true, append: true });
    // Port 0: any free port, so tests never collide with a `deno task dev` on this machine.
    // Instance n (from 1) is the static member `<group>-<n-1>`, as `deno task dev` numbers
    // them: a restarted instance gets its own partitions back. `env` may override it
    // (WORKER_INSTANCE: "" makes a dynamic member).
    const env = {
      LOG_LEVEL: "info",
      WORKER_PORT: "0",
      WORKER_INSTANCE: String(instance - 1),
      ...this.#env,
    };
    if (names.length === 1) Object.assign(env, childDatabasePasswords(env, SERVICES[name].role));
    // With the permissions `deno task worker` gives it, from the child's own configuration.
    const cfg = parseConfig({ ...Deno.env.toObject(), ...env });
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...permissionFlags(
          "worker",
          cfg,
          listenPorts("worker", cfg),
          names.map((n) => SERVICES[n].role),
        ),
        WORKER_TS,
        ...names,
      ],
      env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let consuming = false;
    let consumingSeen = 0;
    let port = 0;
    // Whole lines only: a read can end in the middle of a line (a busy start-up writes faster
    // than the pipe is read), and a marker cut in two was never seen (a 60 s timeout in CI).
    const onLine = (line: string) => {
      if (line.includes('"msg":"consuming"') && ++consumingSeen >= names.length) consuming = true;
      const m = /"msg":"ops endpoints listening".*"port":(\d+)/.exec(line);
      if (m) port = Number(m[1]);
    };
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoder();
      let rest = "";
      for await (const chunk of stream) {
        const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
        rest = lines.pop()!;
        lines.forEach(onLine);
        await log.write(chunk);
      }
      if (rest) onLine(rest);
    };
    const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);
    const exited = pumped.then(() => child.status);
    const running: Running = { child, log, exited, port: 0 };
    this.#running.set(key, running);
    await waitFor(() => consuming && port > 0, {
      timeoutMs,
      what: `worker ${key} to consume and serve its ops port (log: ${path})`,
    });
    running.port = port;
  }

  /**
   * Stops a worker's instances (all of them, or `instance`): SIGTERM (graceful) or SIGKILL
   * (crash). Returns the exit status of the last one stopped.
   */
  async stop(
    name: string,
    opts: { kill?: boolean } & InstanceOpts = {},
  ): Promise<Deno.CommandStatus | undefined> {
    let last: Deno.CommandStatus | undefined;
    await Promise.all(
      this.#instances(opts).map(async (i) => {
        const key = `${name}#${i}`;
        const r = this.#running.get(key);
        if (!r) return;
        this.#running.delete(key);
        try {
          r.child.kill(opts.kill ? "SIGKILL" : "SIGTERM");
        } catch { /* already gone */ }
        last = await r.exited;
        r.log.close();
      }),
    );
    return last;
  }

  /** The ops port of a running worker instance (default: the first). */
  port(name: string, instance = 1): number {
    const r = this.#running.get(`${name}#${instance}`);
    if (!r) throw new Error(`worker ${name}#${instance} is not running`);
    return r.port;
  }

  /** Its log file (every test run appends). */
  logPath(name: string, instance = 1): string {
    return `${LOG_DIR}/test-${name}${instance > 1 ? `-${instance}` : ""}.log`;
  }

  /** The pid of every running instance, by `<name>#<instance>`. */
  pids(): Map<string, number> {
    return new Map([...this.#running].map(([key, r]) => [key, r.child.pid]));
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.#running.keys()].map((key) => {
        const [name, i] = key.split("#");
        return this.stop(name, { instance: Number(i) });
      }),
    );
  }
}
