/**
 * `deno task dev [--cluster] [--replicas N]`: the whole system on the local stack. Brings up what
 * is missing, runs setup (migrate, topics, relay), then the API and workers as child processes
 * with prefixed, interleaved logs. Ctrl-C stops the children, and the stack too if this command
 * started it.
 *
 * `--cluster` (or STACK_PROFILE=cluster): the cluster profile of the stack (3 Kafka nodes, 2
 * Connect workers, RF 3). `--replicas N` (default 1): N instances of each consumer group; Kafka
 * spreads each group's partitions across its instances. Instance i (from 0) runs with
 * WORKER_INSTANCE=i: a static member of its group.
 */
import { parseArgs } from "node:util";
import { components, profileOrder, STACK_DIR } from "../../stack/components.ts";
import { commandProfile, down, up } from "../../stack/cli.ts";
import { setup } from "../system_setup.ts";
import { SERVICES, WORKER_PORTS, WORKERS } from "../workers.ts";
import { API_ROLE, OPS_ROLE } from "../roles.ts";
import { issueToken } from "../platform/http/auth.ts";
import { parseConfig } from "../platform/config.ts";
import { listenPorts, permissionFlags, type ProcessKind } from "../platform/permissions.ts";

interface Child {
  name: string;
  kind: ProcessKind;
  /** The file and its arguments; `deno run` and the permission flags come first. */
  args: string[];
  env?: Record<string, string>;
  /** The database roles it logs in as (its Deno permissions read their local passwords). */
  roles: string[];
}

const { values: flags } = parseArgs({
  args: Deno.args,
  options: { cluster: { type: "boolean" }, replicas: { type: "string", default: "1" } },
});
const replicas = Number(flags.replicas);
if (!Number.isInteger(replicas) || replicas < 1 || replicas > 8) {
  console.error(`Cannot use --replicas ${flags.replicas}: expected an integer from 1 to 8`);
  Deno.exit(64);
}
const profile = commandProfile(flags.cluster ? ["--cluster"] : []);
// The children and setup read the profile's addresses as their defaults.
Deno.env.set("STACK_PROFILE", profile);

/**
 * The ops port of instance `i` of worker `w`: its default port, plus 100 per further instance
 * (9101, 9201, ...), so every instance on this machine serves health and metrics.
 */
const opsPort = (w: string, i: number) => WORKER_PORTS[w] + 100 * i;

/** The processes of the system; each is also runnable alone (`deno task api`, `worker <name>`). */
const CHILDREN: Child[] = [
  {
    name: "api",
    kind: "api",
    args: [new URL("./api.ts", import.meta.url).pathname],
    roles: [API_ROLE, OPS_ROLE],
  },
  ...WORKERS.flatMap((w) =>
    Array.from({ length: replicas }, (_, i) => ({
      name: replicas > 1 ? `${w}#${i + 1}` : w,
      kind: "worker" as const,
      args: [new URL("./worker.ts", import.meta.url).pathname, w],
      roles: [SERVICES[w].role],
      // A stable index per instance: each is the static member `<group>-<i>` of its group, so
      // a restarted instance gets its partitions back without rebalancing the others.
      env: { WORKER_PORT: String(opsPort(w, i)), WORKER_INSTANCE: String(i) },
    }))
  ),
];

async function devSecret(): Promise<string> {
  const path = `${STACK_DIR}/dev-jwt-secret`;
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const secret = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    await Deno.mkdir(STACK_DIR, { recursive: true });
    await Deno.writeTextFile(path, secret, { mode: 0o600 });
    return secret;
  }
}

async function pipeLines(
  name: string,
  stream: ReadableStream<Uint8Array>,
  out: typeof console.log,
) {
  const prefix = `${name.padEnd(18)}| `;
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const line of lines) out(prefix + line);
  }
  if (buf) out(prefix + buf);
}

const wasRunning = (await Promise.all(profileOrder(profile).map((n) => components[n].pid())))
  .every(Boolean);
await up(profile);
const env = { ...Deno.env.toObject() };
env.AUTH_JWT_SECRET ??= await devSecret();
Deno.env.set("AUTH_JWT_SECRET", env.AUTH_JWT_SECRET);
await setup();
// The console scrapes the workers' own counters (retries) from their ops ports: one URL per
// worker, so with replicas it shows the first instance's.
env.WORKER_OPS_URLS ??= WORKERS.map((w) => `${w}=http://127.0.0.1:${opsPort(w, 0)}`).join(",");

const procs = CHILDREN.map((c) => {
  // Each child runs with the permissions `deno task api` or `worker` gives it, computed from the
  // configuration it gets (src/platform/permissions.ts).
  const childEnv = { ...env, ...c.env };
  const childCfg = parseConfig(childEnv);
  const flags = permissionFlags(c.kind, childCfg, listenPorts(c.kind, childCfg), c.roles);
  const p = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, ...c.args],
    env: childEnv,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  pipeLines(c.name, p.stdout, console.log);
  pipeLines(c.name, p.stderr, console.error);
  return { ...c, p };
});

let stopping = false;
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  for (const { p } of procs) {
    try {
      p.kill("SIGTERM");
    } catch { /* already exited */ }
  }
  await Promise.all(procs.map(({ p }) => p.status));
  if (!wasRunning) await down();
  Deno.exit(code);
}
Deno.addSignalListener("SIGINT", () => stop(0));
Deno.addSignalListener("SIGTERM", () => stop(0));
for (const { name, p } of procs) {
  p.status.then((s) => {
    if (stopping) return;
    console.error(`${name} exited with code ${s.code}; stopping everything`);
    stop(1);
  });
}
const port = env.PORT ?? 8080;
// The token rides in the fragment, which the browser never sends to the server (nor to a log).
// As `deno task token` makes them: the API requires the configured issuer, audience, lifetime.
const cfg = parseConfig(env);
const consoleToken = issueToken(env.AUTH_JWT_SECRET, "dev-console", {
  admin: true,
  ttlSeconds: Math.min(24 * 3600, cfg.authJwtMaxLifetimeS),
  issuer: cfg.authJwtIssuer,
  audience: cfg.authJwtAudience,
});
console.log(
  `system running (${profile} stack): api on :${port}, workers ${WORKERS.join(", ")}` +
    `${replicas > 1 ? ` x ${replicas} instances each` : ""}; ` +
    "tokens: deno task token <sub> [--admin]; Ctrl-C stops it\n" +
    `ops console: http://localhost:${port}/ops#token=${consoleToken}\n` +
    `metrics:     http://localhost:${cfg.apiOpsPort}/metrics (api), ` +
    `${WORKERS.map((w) => `:${opsPort(w, 0)}`).join(" ")} (workers)\n` +
    `API docs:    http://localhost:${port}/docs`,
);
