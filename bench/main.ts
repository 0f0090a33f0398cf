/**
 * `deno task bench`: runs the benchmarks against the local stack (which must be up and set up:
 * `deno task stack:up && deno task setup`) and writes Markdown and JSON reports to results/.
 */
import { parseConfig } from "../src/platform/config.ts";
import { relayLatency } from "./relay_latency.ts";

const cfg = parseConfig(Deno.env.toObject());
const machine = {
  cores: navigator.hardwareConcurrency,
  memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
  os: `${Deno.build.os} ${Deno.osRelease()}`,
  deno: Deno.version.deno,
};

console.log("relay latency: 500 events, one at a time, commit -> consumer receive ...");
const relay = await relayLatency(cfg, 500);
console.log(relay);

const report = { at: new Date().toISOString(), machine, relayLatencyMs: relay };
const md = [
  `# Benchmark report ${report.at}`,
  "",
  `Machine: ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Deno ${machine.deno}`,
  "",
  "| scenario | n | p50 ms | p95 ms | p99 ms | max ms |",
  "|---|---|---|---|---|---|",
  `| relay: commit -> consume, one at a time | ${relay.n} | ${relay.p50} | ${relay.p95} | ${relay.p99} | ${relay.max} |`,
  "",
].join("\n");
await Deno.mkdir("results", { recursive: true });
const stamp = report.at.replace(/[:.]/g, "-");
await Deno.writeTextFile(`results/bench-${stamp}.json`, JSON.stringify(report, null, 2));
await Deno.writeTextFile(`results/bench-${stamp}.md`, md);
console.log(md);
