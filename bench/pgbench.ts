/**
 * pgbench on a script of bench/pgbench/: transactions/s and the p50/p99 of each transaction's
 * latency (from its per-transaction log, -l).
 */
import { withLocalPassword } from "../src/platform/local_stack.ts";
import type { Config } from "../src/platform/config.ts";
import type { Phase } from "./phase.ts";
import { percentile } from "./stats.ts";

const here = new URL(".", import.meta.url).pathname;

/**
 * Runs `bench/pgbench/<script>` for `seconds` at `connections` clients (2 threads, prepared
 * statements) as DATABASE_URL's user, the owner: bench tooling, not a service. `vars` are
 * the script's `-D` variables. Throws with the first error line when a client aborted.
 */
export async function pgbench(
  cfg: Config,
  script: string,
  vars: Record<string, string>,
  connections: number,
  seconds: number,
): Promise<Phase> {
  // The local stack's owner password from its folder, as every connection of ours gets it.
  const url = new URL(withLocalPassword(cfg.databaseUrl));
  const dir = await Deno.makeTempDir();
  const out = await new Deno.Command("pgbench", {
    args: [
      "-n",
      "-M",
      "prepared",
      `-c${connections}`,
      "-j2",
      `-T${seconds}`,
      "-l",
      `--log-prefix=${dir}/tx`,
      "-f",
      `${here}pgbench/${script}`,
      ...Object.entries(vars).flatMap(([k, v]) => ["-D", `${k}=${v}`]),
      "-h",
      url.hostname,
      "-p",
      url.port || "5432",
      "-U",
      decodeURIComponent(url.username),
      url.pathname.slice(1),
    ],
    env: url.password ? { PGPASSWORD: decodeURIComponent(url.password) } : {},
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    // Every aborted client repeats the error: its first line says it.
    const all = text + new TextDecoder().decode(out.stderr);
    const aborted = all.match(/client \d+ script \d+ aborted/g)?.length ?? 0;
    const first = all.split("\n").find((l) => /ERROR|error:/.test(l)) ?? all.slice(-500);
    throw new Error(`pgbench failed (${aborted} clients aborted): ${first.trim()}`);
  }
  const latencies: number[] = [];
  for await (const f of Deno.readDir(dir)) {
    for (const line of (await Deno.readTextFile(`${dir}/${f.name}`)).split("\n")) {
      const us = Number(line.split(" ")[2]);
      if (Number.isFinite(us) && line) latencies.push(us / 1000);
    }
  }
  await Deno.remove(dir, { recursive: true });
  latencies.sort((a, b) => a - b);
  const tps = Number(/tps = ([\d.]+)/.exec(text)?.[1] ?? NaN);
  return {
    name: "pgbench",
    connections,
    perSecond: Math.round(tps),
    p50Ms: Math.round(percentile(latencies, 0.5) * 100) / 100,
    p99Ms: Math.round(percentile(latencies, 0.99) * 100) / 100,
    total: latencies.length,
  };
}
