/**
 * Runs one of the project's entry files in a child process with some of its modules' exports
 * replaced, to observe what the file does (which steps it calls, in which order, with what) without
 * the side effects those steps have on a stack.
 *
 * An import map maps each real module's URL to a stub that re-exports the real module under
 * another URL (`?real`, which the map leaves alone) and shadows the exports it replaces, so every
 * other export keeps working. The project's own imports (deno.json) are carried into the map.
 * Every address a missed stub could reach is a closed port, never a running stack.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const CLOSED = "127.0.0.1:1";
/**
 * What the child keeps of this process's environment: what Deno needs to find its cache and the
 * registry. The rest (a developer's DATABASE_URL, passwords, STACK_PORT_OFFSET) is dropped, so the
 * child sees only the configuration's defaults, the closed ports below and what the test gives.
 */
const KEPT_ENV = [
  "PATH",
  "HOME",
  "TMPDIR",
  "DENO_DIR",
  "XDG_CACHE_HOME",
  "NPM_CONFIG_REGISTRY",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
];

export interface Stub {
  /** The real module, relative to the repository root: `src/system_topics.ts`. */
  module: string;
  /**
   * TypeScript appended to the stub after the re-export: the replacing exports. It may use
   * `record(value)` (appends a JSON value to what `runWithStubs` returns) and `turn()` (one
   * macrotask turn) from the recorder, which the stub imports.
   */
  body: string;
}

export interface StubRun {
  code: number;
  stdout: string;
  stderr: string;
  /** What the stubs recorded, in order. */
  records: unknown[];
}

/** The file a `deno task NAME` runs (`deno run -A FILE`), as a URL. */
export async function taskFile(name: string): Promise<URL> {
  const tasks = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).tasks;
  const m = /^deno run -A (\S+\.ts)$/.exec(tasks[name] ?? "");
  assert.ok(m, `deno task ${name} runs one file: ${tasks[name]}`);
  return new URL(m[1], ROOT);
}

/** Runs `main` as the main module with `stubs` in place; `env` is added to the child's. */
export async function runWithStubs(
  main: URL,
  stubs: Stub[],
  env: Record<string, string> = {},
): Promise<StubRun> {
  const dir = await Deno.makeTempDir({ prefix: "stub-modules-" });
  try {
    const trace = `${dir}/trace.jsonl`;
    await Deno.writeTextFile(trace, "");
    await Deno.writeTextFile(
      `${dir}/recorder.ts`,
      `export function record(value) {
        Deno.writeTextFileSync(${
        JSON.stringify(trace)
      }, JSON.stringify(value) + "\\n", { append: true });
      }
      // One macrotask turn: a caller that does not await a stub's promise moves on before it ends.
      export function turn() {
        return new Promise((resolve) => setTimeout(resolve, 0));
      }`,
    );
    const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
    const imports: Record<string, string> = {};
    for (const [k, v] of Object.entries<string>(denoJson.imports)) {
      imports[k] = v.startsWith("./") ? new URL(v, ROOT).href : v;
    }
    for (const [i, s] of stubs.entries()) {
      const real = new URL(s.module, ROOT).href;
      await Deno.writeTextFile(
        `${dir}/stub${i}.ts`,
        `export * from ${JSON.stringify(`${real}?real`)};\n` +
          `import { record, turn } from "./recorder.ts";\n${s.body}\n`,
      );
      imports[real] = `./stub${i}.ts`;
    }
    // The child's configuration: the project's imports plus the stubs, and the project's lockfile,
    // frozen. With `--cached-only` every npm package comes from the lockfile and the cache the
    // parent filled: the child never asks a registry, so it runs the same on a machine with an
    // empty cache (once the project is installed) as on one that built it before.
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        imports,
        lock: { path: new URL("deno.lock", ROOT).pathname, frozen: true },
        nodeModulesDir: denoJson.nodeModulesDir,
      }),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--cached-only", `--config=${dir}/deno.json`, main.href],
      clearEnv: true,
      env: {
        ...Object.fromEntries(KEPT_ENV.flatMap((k) => {
          const v = Deno.env.get(k);
          return v === undefined ? [] : [[k, v]];
        })),
        DATABASE_URL: `postgres://shop@${CLOSED}/shop`,
        RELAY_DATABASE_URL: `postgres://shop@${CLOSED}/shop`,
        KAFKA_BROKERS: CLOSED,
        KAFKA_CONNECT_URL: `http://${CLOSED}`,
        ...env,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const records = (await Deno.readTextFile(trace)).split("\n").filter(Boolean).map((l) =>
      JSON.parse(l)
    );
    const text = new TextDecoder();
    return {
      code: out.code,
      stdout: text.decode(out.stdout),
      stderr: text.decode(out.stderr),
      records,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
