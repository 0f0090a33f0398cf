/**
 * `deno run -A bench/worker_idle.ts [seconds]`: the CPU the five worker processes use with no
 * load (fetch long-polls, heartbeats, lag probes, deadline sweeps, the runtime itself), over a
 * window of `seconds` (default 60) after they settle. One process for every consumer group would
 * keep each group's own clients (its fetch loop, heartbeats, probes), so it can save at most this
 * much: the bound the single-process decision in docs/decisions.md is measured against (it must
 * save at least 10% of the CPU per order to be worth building).
 */
import { Workers } from "../tests/helpers/workers.ts";
import { UsageMeter } from "./resources.ts";
import { WORKERS } from "../src/workers.ts";

const seconds = Number(Deno.args[0] ?? 60);
const workers = new Workers();
const meter = new UsageMeter();
try {
  console.log(`starting the ${WORKERS.length} workers ...`);
  await workers.start();
  // Joining the groups (rebalances, first fetches) is start-up, not idling.
  await new Promise((r) => setTimeout(r, 5_000));
  console.log(`measuring ${seconds} s with no load ...`);
  await meter.window("idle", () => new Promise((r) => setTimeout(r, seconds * 1000)));
  const w = meter.windows[0];
  const rows = w.processes.filter((p) => p.process.startsWith("worker "));
  console.log(`\n| process | CPU % of one core | peak memory MB (PSS) |\n|---|---|---|`);
  for (const p of rows) {
    console.log(`| ${p.process} | ${p.cpuPercent.toFixed(2)} | ${p.maxPssMb.toFixed(0)} |`);
  }
  const sum = rows.reduce((s, p) => s + p.cpuPercent, 0);
  console.log(`| **all ${rows.length} workers** | ${sum.toFixed(2)} | |`);
  console.log(
    `\nidle window ${w.seconds.toFixed(0)} s; machine busy ${w.machineBusy.toFixed(1)}% ` +
      `(others ${w.others.toFixed(1)}%)`,
  );
  console.log(
    `at R orders/s the workers' idle cost is ${(sum * 10).toFixed(1)} / R ms of CPU per order ` +
      `(e.g. ${(sum * 10 / 200).toFixed(2)} ms at 200/s)`,
  );
} finally {
  await workers.stopAll();
}
