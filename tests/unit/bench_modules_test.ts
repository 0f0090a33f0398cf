/**
 * The bench's command line (bench/cli_args.ts), and its modules' imports: no module of bench/
 * reaches itself again through its imports (api_write.ts and cleanup.ts once imported each other,
 * for one helper). Offline: the imports are read from the source files.
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { parseBenchArgs } from "../../bench/cli_args.ts";

const KNOWN = ["relay", "orders", "contention", "hot", "api"];

Deno.test("bench args: none names every scenario, 3 runs, not quick", () => {
  const a = parseBenchArgs([], KNOWN);
  assert.deepEqual([...a.wanted], KNOWN);
  assert.equal(a.runs, 3);
  assert.equal(a.quick, false);
});

Deno.test("bench args: scenarios as named, --runs N or --runs=N, --quick", () => {
  const a = parseBenchArgs(["hot", "orders", "--runs", "2", "--quick", "hot"], KNOWN);
  assert.deepEqual([...a.wanted], ["hot", "orders"]);
  assert.equal(a.runs, 2);
  assert.equal(a.quick, true);
  assert.equal(parseBenchArgs(["--runs=5"], KNOWN).runs, 5);
});

Deno.test("bench args: an unknown word or a bad run count is refused", () => {
  assert.throws(
    () => parseBenchArgs(["order"], KNOWN),
    /unknown argument 'order': expected scenarios \(relay, orders, contention, hot, api\)/,
  );
  assert.throws(() => parseBenchArgs(["--runs", "0"], KNOWN), /--runs must be a positive/);
  assert.throws(() => parseBenchArgs(["--runs", "x"], KNOWN), /--runs must be a positive/);
});

const BENCH = new URL("../../bench/", import.meta.url).pathname;

/** bench/ file (relative) -> the bench/ files it imports. */
async function benchImports(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = join(dir, e.name);
      if (e.isDirectory) await walk(path);
      else if (e.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(path);
        const targets = [...text.matchAll(/^(?:import|export)[^;]*?from\s+"(\.{1,2}\/[^"]+)"/gms)]
          .map((m) => relative(BENCH, join(dirname(path), m[1])))
          .filter((t) => !t.startsWith(".."));
        graph.set(relative(BENCH, path), targets);
      }
    }
  };
  await walk(BENCH);
  return graph;
}

/** A cycle in `graph` as the list of its files, or undefined. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === "done") return undefined;
    if (state.get(n) === "open") return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, "open");
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, "done");
    return undefined;
  };
  for (const n of graph.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

Deno.test("bench modules: no import cycle", async () => {
  const graph = await benchImports();
  assert.ok(graph.has("main.ts") && graph.get("main.ts")!.includes("scenarios/registry.ts"));
  assert.equal(findCycle(graph)?.join(" -> "), undefined);
  // The check can fail: the circle this replaced.
  const circle = new Map(graph);
  circle.set("cleanup.ts", [...(graph.get("cleanup.ts") ?? []), "api_write.ts"]);
  assert.ok(findCycle(circle), "a made-up circle is found");
});
