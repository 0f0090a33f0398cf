/**
 * CPU and memory of the processes a scenario exercises, measured over named load windows (a wrk
 * phase, a pgbench phase, an order rate), next to the machine's total from /proc/stat.
 *
 * Which processes: the stack's (the Postgres cluster's postmaster and its backends, the Kafka
 * and Connect JVMs, found by their pid files) and this bench process with everything it spawned
 * (API, workers, wrk, pgbench). By pid, not by command line: this machine also runs another
 * Postgres cluster and other engineers' APIs and workers, whose command lines look the same.
 * Everything else is one "other processes" row, so the rows add up to the machine's total
 * (user + system + irq + softirq of /proc/stat; see `machineBusy`).
 *
 * How: utime + stime of /proc/<pid>/stat (the whole process, all its threads, in CLK_TCK ticks)
 * per pid at the window's start and end, and once a second between. A process that exits inside
 * the window (pgbench and its 256 backends, wrk) is reaped by its parent, whose cutime + cstime
 * then grow by the child's total: that gives the CPU it used after its last sample. Two ways the
 * sampler this replaces went wrong: it summed each group's counters before taking differences,
 * so the CPU of every process that exited meanwhile dropped out (Postgres read 3-5% during
 * pgbench); and it averaged over the whole scenario (setup, token minting, relay drains), which
 * diluted the API to 13-19% while it served 3,000 requests/s at 50-65% of a core.
 */
import { components } from "../stack/components.ts";

/** USER_HZ, the unit of /proc's CPU times: asked, not assumed (100 on x86-64 and arm64). */
const CLK_TCK = await (async () => {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"] }).output();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

export interface ProcessUsage {
  process: string;
  /** CPU over the window, % of one core (this machine: up to 100 x cores). */
  cpuPercent: number;
  /** CPU over the window, ms: the per-order cost divides it by the window's orders. */
  cpuMs: number;
  /** Peak memory (PSS: Postgres backends share their buffers; RSS would count them many times). */
  maxPssMb: number;
}

export interface WindowUsage {
  label: string;
  seconds: number;
  processes: ProcessUsage[];
  /** Sum of `processes`' CPU, % of one core. */
  processSum: number;
  /** Every other process on the machine (other clusters, other runs, kernel threads). */
  others: number;
  /** The busiest of them, by command name. */
  topOthers: { process: string; cpuPercent: number }[];
  /**
   * Whole machine from /proc/stat, % of one core: user + nice + system + irq + softirq. What
   * `processSum + others` should match: a process's utime + stime includes the interrupts served
   * while it ran (loopback networking, mostly), which /proc/stat counts as irq and softirq.
   * Checked here: pgbench 64 connections, 198% vs 198%; wrk against the API, 158% vs 156%.
   */
  machineBusy: number;
  /** The irq + softirq part of it. */
  machineIrq: number;
  /** Time the hypervisor gave this VM's vCPUs to others, % of one core: the shared machine. */
  machineSteal: number;
}

interface Proc {
  ppid: number;
  comm: string;
  /** utime + stime */
  ticks: number;
  /** cutime + cstime: the children it has reaped */
  childTicks: number;
  /** When it started, in ticks since boot: tells a new process from a recycled pid. */
  startTime: number;
  /** The group it belongs to, or undefined for other processes. */
  name?: string;
}

interface CpuTotals {
  process: number;
  irq: number;
  steal: number;
}

async function readStat(pid: string): Promise<Omit<Proc, "name"> | undefined> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // comm (field 2) may hold spaces and parentheses: split after its last ')'.
    const close = stat.lastIndexOf(")");
    const f = stat.slice(close + 2).split(" ");
    // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17,
    // starttime 22 (proc(5)).
    return {
      ppid: Number(f[1]),
      comm: stat.slice(stat.indexOf("(") + 1, close),
      ticks: Number(f[11]) + Number(f[12]),
      childTicks: Number(f[13]) + Number(f[14]),
      startTime: Number(f[19]),
    };
  } catch {
    return undefined; // ended meanwhile
  }
}

async function machineTotals(): Promise<CpuTotals> {
  const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  const [user, nice, system, _idle, _iowait, irq, softirq, steal] = line.trim().split(/\s+/)
    .slice(1).map(Number);
  return { process: user + nice + system, irq: irq + softirq, steal };
}

async function pss(pid: number): Promise<number> {
  try {
    const rollup = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
    return Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

async function childName(pid: number): Promise<string> {
  const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
  if (cmdline.includes("src/main/api.ts")) return "api";
  // The entry points live in src/main/ (the API above too).
  const w = /src\/main\/worker\.ts\0([\w\0-]+)/.exec(cmdline);
  if (w) {
    const names = w[1].split("\0").filter(Boolean);
    return names.length > 1 ? "workers (one process)" : `worker ${names[0]}`;
  }
  const argv0 = cmdline.split("\0")[0].split("/").at(-1) || "?";
  return argv0 === "deno" ? "deno (other child)" : argv0;
}

export const BENCH_PROCESS = "bench driver (this process: load, polling)";

/** A child's group is fixed for its life: its command line is read once. */
const childNames = new Map<number, Promise<string>>();

/** Every process, with the group of those that are the stack's or this bench's. */
async function snapshot(): Promise<Map<number, Proc>> {
  const all = new Map<number, Proc>();
  await Promise.all(
    [...Deno.readDirSync("/proc")].filter((e) => /^\d+$/.test(e.name)).map(async (e) => {
      const p = await readStat(e.name);
      if (p) all.set(Number(e.name), p);
    }),
  );
  const roots = new Map<number, string>([[Deno.pid, BENCH_PROCESS]]);
  // Every component of either profile that runs (the cluster: kafka-1..3, connect-1..2).
  for (const c of Object.keys(components) as (keyof typeof components)[]) {
    const pid = await components[c].pid();
    if (pid) roots.set(pid, c);
  }
  const nameOf = async (pid: number): Promise<string | undefined> => {
    // Walk up to a root: a stack component names all its descendants (Postgres backends);
    // under this bench, the direct child names the group (the API, a worker, wrk, pgbench).
    let child = -1;
    for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
      const root = roots.get(p);
      if (root === BENCH_PROCESS && child >= 0) {
        if (!childNames.has(child)) childNames.set(child, childName(child));
        return await childNames.get(child)!;
      }
      if (root) return root;
      child = p;
      p = all.get(p)?.ppid ?? 0;
    }
    return undefined;
  };
  await Promise.all([...all].map(async ([pid, p]) => void (p.name = await nameOf(pid))));
  return all;
}

/** Now, in ticks since boot (the clock of `starttime`). */
async function bootTicks(): Promise<number> {
  return Number((await Deno.readTextFile("/proc/uptime")).split(" ")[0]) * CLK_TCK;
}

interface Open {
  label: string;
  startedAt: number;
  /** The window's start in ticks since boot, a little before the first snapshot. */
  bootTicks: number;
  machine: CpuTotals;
  first: Map<number, Proc>;
  /** Our processes as first seen, for those the first snapshot missed. */
  seen: Map<number, Proc>;
  /** Our processes as last seen (kept after they exit). */
  last: Map<number, Proc>;
  peak: Map<string, number>;
}

/**
 * Measures windows of a scenario: `window(label, fn)` runs `fn` and records each process
 * group's CPU and peak memory during it, appended to `windows`. Windows may not overlap.
 */
export class UsageMeter {
  readonly windows: WindowUsage[] = [];
  #open: Open | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #sampling: Promise<void> = Promise.resolve();

  async window<T>(label: string, fn: () => Promise<T>): Promise<T> {
    if (this.#open) throw new Error(`window '${label}' overlaps '${this.#open.label}'`);
    const boot = await bootTicks();
    const [procs, machine] = await Promise.all([snapshot(), machineTotals()]);
    const open: Open = {
      label,
      startedAt: performance.now(),
      bootTicks: boot,
      machine,
      first: procs,
      seen: new Map(),
      last: new Map([...procs].filter(([, p]) => p.name)),
      peak: new Map(),
    };
    this.#open = open;
    await this.#memory(open);
    this.#timer = setInterval(() => {
      this.#sampling = this.#sampling.then(() => this.#sample(open));
    }, 1000);
    try {
      return await fn();
    } finally {
      clearInterval(this.#timer);
      await this.#sampling;
      const [end, machineEnd] = await Promise.all([snapshot(), machineTotals()]);
      this.#close(open, end, machineEnd);
    }
  }

  async #sample(open: Open): Promise<void> {
    for (const [pid, p] of await snapshot()) {
      if (!p.name) continue;
      if (!open.seen.has(pid)) open.seen.set(pid, p);
      open.last.set(pid, p);
    }
    await this.#memory(open);
  }

  async #memory(open: Open): Promise<void> {
    const sums = new Map<string, number>();
    await Promise.all([...open.last].map(async ([pid, p]) => {
      const mb = await pss(pid);
      sums.set(p.name!, (sums.get(p.name!) ?? 0) + mb);
    }));
    for (const [name, mb] of sums) open.peak.set(name, Math.max(open.peak.get(name) ?? 0, mb));
  }

  #close(open: Open, end: Map<number, Proc>, machine: CpuTotals): void {
    this.#open = undefined;
    const seconds = (performance.now() - open.startedAt) / 1000;
    // A process's CPU before the window: from the first snapshot; none if it started inside the
    // window; else (missed by the first snapshot) as first seen, a lower bound.
    const start = (pid: number, p: Proc) => {
      const first = open.first.get(pid);
      if (first?.startTime === p.startTime) return first.ticks;
      if (p.startTime >= open.bootTicks) return 0;
      const seen = open.seen.get(pid);
      return seen?.startTime === p.startTime ? seen.ticks : p.ticks;
    };
    const ticks = new Map<string, number>();
    const add = (name: string, t: number) => ticks.set(name, (ticks.get(name) ?? 0) + t);
    // Exited inside the window, grouped by the parent that reaped them.
    const exited = new Map<number, [number, Proc][]>();
    // Ours that started after the last sample are only in the end snapshot.
    for (const [pid, p] of end) if (p.name && !open.last.has(pid)) open.last.set(pid, p);
    for (const [pid, p] of open.last) {
      const now = end.get(pid);
      if (now && now.startTime === p.startTime) {
        add(p.name!, Math.max(0, now.ticks - start(pid, p)));
      } else {
        exited.set(p.ppid, [...(exited.get(p.ppid) ?? []), [pid, p]]);
      }
    }
    // A parent's reaped-children counter grows by each child's final total when it reaps it:
    // what an exited child used after its last sample is the difference. That also holds the
    // children too brief to be sampled at all (a Postgres backend of one query, a `getconf`).
    for (const [ppid, parentBefore] of open.first) {
      const parentAfter = end.get(ppid);
      if (!parentBefore.name || parentAfter?.startTime !== parentBefore.startTime) continue;
      const children = exited.get(ppid) ?? [];
      const seen = children.map(([pid, p]) => ({
        name: p.name!,
        t: Math.max(0, p.ticks - start(pid, p)),
      }));
      for (const s of seen) add(s.name, s.t);
      const reaped = parentAfter.childTicks - parentBefore.childTicks;
      const observed = seen.reduce((a, s) => a + s.t, 0);
      const tail = reaped - children.reduce((a, [pid, p]) => a + start(pid, p), 0) - observed;
      if (tail <= 0) continue;
      if (observed === 0) add(parentBefore.name, tail); // unseen children: the parent's group
      else for (const s of seen) add(s.name, (tail * s.t) / observed);
    }
    // Exited children of a parent that is not ours, or gone too: as last seen.
    for (const [ppid, children] of exited) {
      const parent = open.first.get(ppid);
      if (parent?.name && end.get(ppid)?.startTime === parent.startTime) continue;
      for (const [pid, p] of children) add(p.name!, Math.max(0, p.ticks - start(pid, p)));
    }
    // Everything else, alive at both ends or started inside (a lower bound: their exits are
    // not followed).
    const others = new Map<string, number>();
    for (const [pid, p] of end) {
      if (p.name || open.last.has(pid)) continue;
      const before = open.first.get(pid);
      const base = before?.startTime === p.startTime ? before.ticks : undefined;
      const t = p.ticks - (base ?? (p.startTime >= open.bootTicks ? 0 : p.ticks));
      if (t > 0) others.set(p.comm, (others.get(p.comm) ?? 0) + t);
    }
    const pct = (t: number) => Math.round((t / CLK_TCK / seconds) * 1000) / 10;
    const processes = [...ticks].map(([process, t]) => ({
      process,
      cpuPercent: pct(t),
      cpuMs: Math.round((t / CLK_TCK) * 1000),
      maxPssMb: Math.round(open.peak.get(process) ?? 0),
    })).sort((a, b) => a.process.localeCompare(b.process));
    this.windows.push({
      label: open.label,
      seconds: Math.round(seconds * 10) / 10,
      processes,
      processSum: pct([...ticks.values()].reduce((a, b) => a + b, 0)),
      others: pct([...others.values()].reduce((a, b) => a + b, 0)),
      topOthers: [...others].sort((a, b) => b[1] - a[1]).slice(0, 3)
        .map(([process, t]) => ({ process, cpuPercent: pct(t) })),
      machineBusy: pct(machine.process + machine.irq - open.machine.process - open.machine.irq),
      machineIrq: pct(machine.irq - open.machine.irq),
      machineSteal: pct(machine.steal - open.machine.steal),
    });
  }
}
