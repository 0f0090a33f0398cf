/**
 * `deno task dev`: the whole system on the local stack. Brings up what is missing, runs setup
 * (migrate, topics, relay), then the API and workers as child processes with prefixed,
 * interleaved logs. Ctrl-C stops the children, and the stack too if this command started it.
 */
import { components, ORDER, STACK_DIR } from "../stack/components.ts";
import { down, up } from "../stack/cli.ts";
import { setup } from "./setup.ts";
import { WORKER_PORTS, WORKERS } from "./worker.ts";
import { issueToken } from "./platform/http/auth.ts";

interface Child {
  name: string;
  args: string[];
}

/** The processes of the system; each is also runnable alone (`deno task api`, `worker <name>`). */
const CHILDREN: Child[] = [
  { name: "api", args: ["run", "-A", "src/api.ts"] },
  ...WORKERS.map((w) => ({ name: w, args: ["run", "-A", "src/worker.ts", w] })),
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
  const prefix = `${name.padEnd(16)}| `;
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const line of lines) out(prefix + line);
  }
  if (buf) out(prefix + buf);
}

const wasRunning = (await Promise.all(ORDER.map((n) => components[n].pid()))).every(Boolean);
await up();
const env = { ...Deno.env.toObject() };
env.AUTH_JWT_SECRET ??= await devSecret();
Deno.env.set("AUTH_JWT_SECRET", env.AUTH_JWT_SECRET);
await setup();
// The console scrapes the workers' own counters (retries) from their default ops ports.
env.WORKER_OPS_URLS ??= WORKERS.map((w) => `${w}=http://127.0.0.1:${WORKER_PORTS[w]}`).join(",");

const procs = CHILDREN.map((c) => {
  const p = new Deno.Command(Deno.execPath(), {
    args: c.args,
    env,
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
const consoleToken = issueToken(env.AUTH_JWT_SECRET, "dev-console", { admin: true });
console.log(
  `system running: api on :${port}, workers ${WORKERS.join(", ")}; ` +
    "tokens: deno task token <sub> [--admin]; Ctrl-C stops it\n" +
    `ops console: http://localhost:${port}/ops#token=${consoleToken}\n` +
    `API docs:    http://localhost:${port}/docs`,
);
