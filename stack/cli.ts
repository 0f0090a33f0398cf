/**
 * `deno task stack:fetch|stack:up|stack:down|stack:status`: the local stack without Docker.
 * `up` is idempotent and waits for real readiness; `down` stops only what this stack started.
 *
 * Two profiles (src/platform/local_stack.ts): `single` (default) and `cluster` (three Kafka
 * nodes, two Connect workers), chosen by STACK_PROFILE or, for `up` and `status`, `--cluster`.
 * `down` and `reset` stop every component of either profile that runs in this STACK_DIR.
 */
import postgres from "postgres";
import {
  type ComponentName,
  components,
  LOG_DIR,
  prepareStackDir,
  profileOrder,
  removePgData,
  REPO_DIR,
  safeRemove,
  STACK_DIR,
  StackError,
  STAGES,
  STOP_ORDER,
} from "./components.ts";
import { type StackProfile, stackProfile, withLocalPassword } from "../src/platform/local_stack.ts";
import { parseConfig } from "../src/platform/config.ts";
import { kafkaAccess, kafkaClient } from "../src/platform/kafka.ts";
import { PRINCIPALS } from "../src/kafka_acls.ts";
import { groupLag } from "../src/platform/lag.ts";
import { slotLag } from "../src/platform/slot_metrics.ts";
import { connectorStatus } from "../relay/register.ts";
import { SERVICES } from "../src/workers.ts";
import { sha256Hex } from "../src/platform/sha256.ts";

const FETCH_MARK = `${STACK_DIR}/lib/.fetched`;

async function pomHash(): Promise<string> {
  return sha256Hex(await Deno.readFile(`${REPO_DIR}/stack/pom.xml`)).slice(0, 16);
}

/** Resolves the jars through Maven (cached in ~/.m2 and in the stack folder per pom version). */
export async function fetchJars(): Promise<void> {
  const hash = await pomHash();
  try {
    if ((await Deno.readTextFile(FETCH_MARK)).trim() === hash) return;
  } catch { /* not fetched yet */ }
  console.log("fetching Kafka, Kafka Connect and Debezium jars from Maven Central ...");
  await prepareStackDir();
  await safeRemove(`${STACK_DIR}/lib`);
  await safeRemove(`${STACK_DIR}/plugins`);
  // Maven's unpack markers would otherwise skip the plugin we just removed.
  await safeRemove(`${STACK_DIR}/maven`);
  // Maven's own transfer log, summed into one progress line every few seconds: the first fetch
  // downloads about 80 MB, and minutes of silence look like a hang.
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("mvn", {
      args: [
        "-B",
        "-Dstyle.color=never",
        "-f",
        `${REPO_DIR}/stack/pom.xml`,
        `-Dstack.dir=${STACK_DIR}`,
        "package",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    throw new StackError(
      `mvn could not run (${(err as Error).message}); install Java 17+ and Maven`,
    );
  }
  const started = performance.now();
  const tail: string[] = [];
  let files = 0;
  let kb = 0;
  let shown = started;
  const follow = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 200) tail.shift();
        const m = /Downloaded from \S+: \S+ \(([\d.]+) (kB|MB|B)/.exec(line);
        if (!m) continue;
        files++;
        kb += Number(m[1]) * (m[2] === "MB" ? 1024 : m[2] === "B" ? 1 / 1024 : 1);
        if (performance.now() - shown > 3000) {
          shown = performance.now();
          const s = Math.round((shown - started) / 1000);
          console.log(`  ${files} files, ${(kb / 1024).toFixed(1)} MB downloaded (${s} s) ...`);
        }
      }
    }
  };
  const [status] = await Promise.all([child.status, follow(child.stdout), follow(child.stderr)]);
  if (files > 0) console.log(`  ${files} files, ${(kb / 1024).toFixed(1)} MB downloaded`);
  if (!status.success) {
    throw new StackError(`mvn failed to resolve the stack's jars:\n${tail.join("\n")}`);
  }
  await Deno.writeTextFile(FETCH_MARK, hash);
}

async function checkJava(): Promise<void> {
  try {
    const out = await new Deno.Command("java", { args: ["-version"], stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stderr);
    const major = parseInt(/version "(\d+)/.exec(text)?.[1] ?? "0", 10);
    if (major < 17) throw new StackError(`Java 17+ is required, found: ${text.split("\n")[0]}`);
  } catch (err) {
    if (err instanceof StackError) throw err;
    throw new StackError(
      "java is not on PATH; install a JDK 17+ (e.g. apt install openjdk-17-jdk)",
    );
  }
}

/** The profile of this command: `--cluster` on the command line, else STACK_PROFILE. */
export function commandProfile(args: string[] = Deno.args): StackProfile {
  if (args.includes("--cluster")) return "cluster";
  try {
    return stackProfile(Deno.env.toObject());
  } catch (err) {
    throw new StackError((err as Error).message);
  }
}

/** Components of either profile that run in this STACK_DIR now. */
async function running(): Promise<ComponentName[]> {
  const names = STOP_ORDER.flat();
  const pids = await Promise.all(names.map((n) => components[n].pid()));
  return names.filter((_, i) => pids[i] !== undefined);
}

/**
 * Brings up every component of `profile` that is not running, stage by stage (the components of
 * a stage start together). Refuses while the other profile's Kafka or Connect runs here.
 */
export async function up(profile: StackProfile = commandProfile()): Promise<void> {
  await checkJava();
  await fetchJars();
  const mine = new Set(profileOrder(profile));
  const others = (await running()).filter((n) => !mine.has(n));
  if (others.length > 0) {
    throw new StackError(
      `the other profile runs in ${STACK_DIR} (${others.join(", ")}); ` +
        `'deno task stack:down' first, or use STACK_PROFILE=${
          profile === "cluster" ? "single" : "cluster"
        }`,
    );
  }
  const started = performance.now();
  for (const stage of STAGES[profile]) {
    await Promise.all(stage.map(async (name) => {
      const c = components[name];
      const t = performance.now();
      const wasUp = await c.pid();
      await c.start();
      const ms = Math.round(performance.now() - t);
      console.log(`${name.padEnd(10)} ${wasUp ? "already running" : `started in ${ms} ms`}`);
    }));
  }
  console.log(
    `stack up (${profile}) in ${((performance.now() - started) / 1000).toFixed(1)} s ` +
      `(logs: ${LOG_DIR})`,
  );
  if (profile === "cluster" && Deno.env.get("STACK_PROFILE") !== "cluster") {
    console.log(
      "the cluster's addresses are the defaults only with STACK_PROFILE=cluster in the " +
        "environment (setup, dev, test, workers)",
    );
  }
}

/**
 * Stops every component of either profile this stack started: Connect first, then the Kafka
 * nodes together (a node stopping alone after the others would wait for a quorum that is
 * gone), then Postgres.
 */
export async function down(): Promise<void> {
  const live = new Set(await running());
  for (const stage of STOP_ORDER) {
    const present = stage.filter((n) => live.has(n));
    if (stage.includes("postgres") && !present.length) console.log("postgres   not running");
    await Promise.all(present.map(async (name) => {
      const c = components[name];
      const pid = await c.pid();
      await c.stop();
      console.log(`${name.padEnd(10)} ${pid ? `stopped (pid ${pid})` : "not running"}`);
    }));
  }
  if (live.size === 0) console.log("nothing was running");
}

/** Stops the stack and deletes its data (database, topics, Connect state); keeps the jars. */
export async function reset(): Promise<void> {
  // Refuse a folder the stack did not make before stopping anything.
  await prepareStackDir(STACK_DIR, { create: false });
  await down();
  // The cluster may live outside the checkout (see README); removePgData removes it there too.
  await removePgData();
  for (const dir of ["kafka", "run", "conf"]) await safeRemove(`${STACK_DIR}/${dir}`);
  console.log("stack data removed; 'deno task stack:up' starts from scratch");
}

async function rssMb(pid: number): Promise<string> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = parseInt(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? "0", 10);
    return `${Math.round(kb / 1024)} MB`;
  } catch {
    return "-";
  }
}

/** The relay (connector, slot) and each consumer group's lag, for `status`. */
async function relayAndLag(profile: StackProfile): Promise<void> {
  // The profile's own addresses, whatever STACK_PROFILE says (`status --cluster`).
  const cfg = parseConfig({ ...Deno.env.toObject(), STACK_PROFILE: profile });
  const s = await connectorStatus(cfg.kafkaConnectUrl, "shop-outbox").catch(() => undefined);
  console.log(
    `\nrelay     connector shop-outbox: ${
      s
        ? `${s.connector.state}, tasks ${
          s.tasks.map((t) => `${t.state} on ${t.worker_id ?? "?"}`).join(",") || "none"
        }`
        : "not registered"
    }`,
  );
  const sql = postgres(withLocalPassword(cfg.databaseUrl), { max: 1, onnotice: () => {} });
  try {
    for (const slot of await slotLag(sql).catch(() => [])) {
      console.log(
        `          slot ${slot.slot}: ${
          slot.active ? "active" : "INACTIVE"
        }, ${slot.lagBytes} bytes behind`,
      );
    }
  } finally {
    await sql.end();
  }
  const admin = kafkaClient(kafkaAccess(cfg, PRINCIPALS.admin), "stack-status", {
    silent: true,
    retries: 1,
  }).admin();
  await admin.connect();
  try {
    for (const [name, service] of Object.entries(SERVICES)) {
      const lag = await groupLag(admin, service.group, service.topics).catch(() => []);
      const total = lag.reduce((n, p) => n + p.lag, 0);
      const worst = lag.reduce((m, p) => Math.max(m, p.lag), 0);
      console.log(
        `lag       ${name.padEnd(16)} ${total} records behind (worst partition ${worst})`,
      );
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Prints each component of `profile` (and any of the other profile that runs here) with its
 * port, pid, memory and health; false if any of the profile's is unhealthy.
 */
export async function status(profile: StackProfile = commandProfile()): Promise<boolean> {
  let allOk = true;
  const mine = profileOrder(profile);
  const extra = (await running()).filter((n) => !mine.includes(n));
  const rows = [["component", "port", "pid", "rss", "health"]];
  for (const name of [...mine, ...extra]) {
    const c = components[name];
    const pid = await c.pid();
    const h = pid ? await c.health() : { ok: false, detail: "not running" };
    if (mine.includes(name)) allOk &&= h.ok;
    rows.push([
      name,
      String(c.port),
      pid ? String(pid) : "-",
      pid ? await rssMb(pid) : "-",
      `${h.ok ? "ok" : "DOWN"}: ${h.detail}${mine.includes(name) ? "" : " (other profile)"}`,
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((cell, i) => cell.padEnd(widths[i])).join("  "));
  console.log(`profile: ${profile}  state: ${STACK_DIR}  logs: ${LOG_DIR}`);
  if (allOk) await relayAndLag(profile);
  return allOk;
}

if (import.meta.main) {
  const cmd = Deno.args[0];
  try {
    if (cmd === "fetch") await fetchJars();
    else if (cmd === "up") await up();
    else if (cmd === "down") await down();
    else if (cmd === "reset") await reset();
    else if (cmd === "status") Deno.exitCode = (await status()) ? 0 : 1;
    else {
      console.error("usage: deno run -A stack/cli.ts fetch|up|down|status|reset");
      Deno.exitCode = 2;
    }
  } catch (err) {
    if (!(err instanceof StackError)) throw err;
    console.error(`stack ${cmd} failed: ${err.message}`);
    Deno.exitCode = 1;
  }
}
