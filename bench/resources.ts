/**
 * Samples CPU and RSS of the stack's and the system's processes once a second while a scenario
 * runs: Postgres (all its processes), Kafka, Connect, the API, each worker, and the load tools.
 */
interface Sample {
  cpuSeconds: number;
  rssMb: number;
}

/** Average CPU over the scenario (setup included), and peak memory (PSS) of a process group. */
export interface Usage {
  process: string;
  cpuPercent: number;
  maxRssMb: number;
}

const CLK_TCK = 100;

function classify(cmdline: string): string | undefined {
  if (cmdline.includes("kafka.Kafka")) return "kafka";
  if (cmdline.includes("ConnectDistributed")) return "connect";
  if (/^\/usr\/lib\/postgresql\/\d+\/bin\/postgres|^postgres:/.test(cmdline)) return "postgres";
  if (cmdline.includes("src/api.ts")) return "api";
  const w = /src\/worker\.ts\0([\w-]+)/.exec(cmdline);
  if (w) return `worker ${w[1]}`;
  if (cmdline.startsWith("wrk")) return "wrk";
  if (cmdline.startsWith("pgbench")) return "pgbench";
  return undefined;
}

async function snapshot(): Promise<Map<string, Sample>> {
  const out = new Map<string, Sample>();
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      const name = classify(cmdline);
      if (!name) continue;
      const stat = (await Deno.readTextFile(`/proc/${e.name}/stat`)).split(") ")[1].split(" ");
      const cpu = (Number(stat[11]) + Number(stat[12])) / CLK_TCK;
      // PSS, not RSS: Postgres backends share their buffers; RSS would count them many times.
      const rollup = await Deno.readTextFile(`/proc/${e.name}/smaps_rollup`);
      const rss = Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0) / 1024;
      const s = out.get(name) ?? { cpuSeconds: 0, rssMb: 0 };
      s.cpuSeconds += cpu;
      s.rssMb += rss;
      out.set(name, s);
    } catch { /* the process ended meanwhile */ }
  }
  return out;
}

/** Runs `fn` while sampling; returns its result and each process group's CPU % and peak RSS. */
export async function withUsage<T>(fn: () => Promise<T>): Promise<{ result: T; usage: Usage[] }> {
  const first = new Map<string, { at: number; cpu: number }>();
  const last = new Map<string, { at: number; cpu: number }>();
  const peak = new Map<string, number>();
  let running = true;
  const sampler = (async () => {
    while (running) {
      const at = performance.now();
      for (const [name, s] of await snapshot()) {
        if (!first.has(name)) first.set(name, { at, cpu: s.cpuSeconds });
        last.set(name, { at, cpu: s.cpuSeconds });
        peak.set(name, Math.max(peak.get(name) ?? 0, s.rssMb));
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    const result = await fn();
    return {
      result,
      usage: [...last.entries()].map(([name, l]) => {
        const f = first.get(name)!;
        const seconds = (l.at - f.at) / 1000;
        return {
          process: name,
          cpuPercent: seconds > 0 ? Math.round(((l.cpu - f.cpu) / seconds) * 100) : 0,
          maxRssMb: Math.round(peak.get(name)!),
        };
      }).sort((a, b) => a.process.localeCompare(b.process)),
    };
  } finally {
    running = false;
    await sampler;
  }
}
