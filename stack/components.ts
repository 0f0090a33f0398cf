/**
 * The local stack's three components as plain processes under one git-ignored folder:
 * a private PostgreSQL cluster (wal_level=logical), a single-node Kafka in KRaft mode, and a
 * Kafka Connect worker with the Debezium Postgres plugin. Each can be started, stopped and
 * probed on its own; tests use that to take one down on purpose.
 */
import {
  CLUSTER_CONNECT_PORTS,
  CLUSTER_NODES,
  type KafkaNode,
  LOCAL_PORTS,
  type StackProfile,
} from "../src/platform/local_stack.ts";
import { kafkaClient } from "../src/platform/kafka.ts";
import { waitFor } from "../src/platform/wait_for.ts";
import { sha256Hex } from "../src/platform/sha256.ts";
import { RELAY_PASSWORD_VAR, RELAY_ROLE } from "../relay/role.ts";
import { SERVICE_ROLES } from "../src/roles.ts";
import { setRolePassword } from "../src/platform/role_password.ts";
import {
  applyKafkaAcls,
  BROKER_USER,
  CONTROLLER_USER,
  PRINCIPALS,
  scramUsers,
  SUPER_USERS,
} from "../src/kafka_acls.ts";
import postgres from "postgres";
import { dirname, normalize } from "node:path";

export const REPO_DIR = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** A stack command failed (a component did not become healthy, a delete was refused, ...). */
export class StackError extends Error {
  override name = "StackError";
}

/** STACK_DIR is unusable; the message names the value and the rule. */
export class StackDirError extends StackError {
  override name = "StackDirError";
}

/**
 * The stack folder for a STACK_DIR value (unset: `<repo>/.stack`), normalized. Refuses an empty,
 * relative or root path: the stack deletes subfolders of it (`lib`, `pg`, ...), and `""` once
 * made `stack:fetch` remove `/lib` as root.
 * @throws {StackDirError}
 */
export function checkStackDir(value: string | undefined): string {
  if (value === undefined) return `${REPO_DIR}/.stack`;
  const path = value.startsWith("/") ? normalize(value).replace(/\/+$/, "") : "";
  if (path === "") {
    throw new StackDirError(
      `Cannot use STACK_DIR as it must be an absolute path other than /: current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return path;
}

function stackDirFromEnv(): string {
  try {
    return checkStackDir(Deno.env.get("STACK_DIR"));
  } catch (err) {
    if (!(err instanceof StackDirError)) throw err;
    // Exit before any path is derived from it, with EX_CONFIG like the other config errors.
    console.error(err.message);
    Deno.exit(78);
  }
}

export const STACK_DIR = stackDirFromEnv();
export const LOG_DIR = `${STACK_DIR}/logs`;
const RUN_DIR = `${STACK_DIR}/run`;
const CONF_DIR = `${REPO_DIR}/stack/conf`;
const PG_BIN = Deno.env.get("PG_BIN") ?? "/usr/lib/postgresql/15/bin";
const PG_DIR = `${STACK_DIR}/pg`;
const PG_DATA = `${PG_DIR}/data`;

/**
 * The single-node profile's `kafka` and `connect`; the cluster profile's `kafka-1..3` (node 1 on
 * the single node's ports, so the two profiles never run at once in one STACK_DIR) and
 * `connect-1..2`. Postgres is the same in both.
 */
export type ComponentName =
  | "postgres"
  | "kafka"
  | "connect"
  | "kafka-1"
  | "kafka-2"
  | "kafka-3"
  | "connect-1"
  | "connect-2";

export interface Component {
  name: ComponentName;
  port: number;
  log: string;
  /** Starts the process if it is not running and waits until it is healthy. */
  start(): Promise<void>;
  /** Stops the process this stack started (and nothing else); SIGKILL when `kill` is set. */
  stop(opts?: { kill?: boolean }): Promise<void>;
  /** The pid of the running process, or undefined. */
  pid(): Promise<number | undefined>;
  /** A short health verdict from a real request to the component. */
  health(): Promise<{ ok: boolean; detail: string }>;
}

const isRoot = Deno.uid() === 0;

// ---------------------------------------------------------------------------------------------
// The stack folder's marker: the stack deletes only inside a folder it made (or adopted).

/** The marker file the stack writes into STACK_DIR when it creates the folder. */
export const STACK_MARKER = ".shop-stack";

const MARKER_TEXT = `This folder holds the local stack of ${REPO_DIR} (stack/cli.ts): a PostgreSQL
cluster, Kafka and Kafka Connect data, jars, logs and pid files. The stack deletes subfolders
(stack:fetch, stack:reset) only of a folder that holds this file.
`;

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.lstat(path)).isFile;
  } catch {
    return false;
  }
}

async function readOr(path: string, fallback = ""): Promise<string> {
  return await Deno.readTextFile(path).catch(() => fallback);
}

/**
 * Whether `dir` holds what only this stack writes: a folder from before the marker existed.
 * Generic names (`conf/`, `run/`, `lib/`) are not enough: `/var` has `run` and `lib`.
 */
async function hasStackFiles(dir: string): Promise<boolean> {
  return /^[0-9a-f]{16}$/.test((await readOr(`${dir}/lib/.fetched`)).trim()) ||
    (await readOr(`${dir}/conf/server.properties`)).includes(`log.dirs=${dir}/kafka/data`) ||
    (await readOr(`${dir}/conf/connect.properties`)).includes(`plugin.path=${dir}/plugins`);
}

/**
 * Makes `dir` a marked stack folder before the stack writes or deletes in it. A missing folder
 * is created with the marker (unless `create` is false); an unmarked one is adopted when it is
 * empty or holds files only this stack writes (a stack folder from before the marker); any other
 * folder is refused.
 * @throws {StackError} for a folder the stack did not make.
 */
export async function prepareStackDir(
  dir: string = STACK_DIR,
  opts: { create?: boolean } = {},
): Promise<void> {
  const marker = `${dir}/${STACK_MARKER}`;
  if (await isFile(marker)) return;
  const entries: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) entries.push(e.name);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    if (opts.create === false) return;
    await Deno.mkdir(dir, { recursive: true });
  }
  if (entries.length > 0 && !(await hasStackFiles(dir))) {
    throw new StackError(
      `Cannot use STACK_DIR=${dir} as it is a folder the stack did not make: it has no ` +
        `${STACK_MARKER} nor files the stack writes. Choose a new or empty folder (or, if it is ` +
        `a stack folder after all, create ${marker}).`,
    );
  }
  await Deno.writeTextFile(marker, MARKER_TEXT);
}

/**
 * Deletes `path` recursively, only if it lies inside the stack folder `dir` and `dir` holds the
 * marker; a missing `path` is not an error.
 * @throws {StackError} when the delete is refused; {StackDirError} for an unusable `dir`.
 */
export async function safeRemove(path: string, dir: string = STACK_DIR): Promise<void> {
  const root = checkStackDir(dir);
  const target = normalize(path).replace(/\/+$/, "");
  if (!target.startsWith(`${root}/`)) {
    throw new StackError(`Cannot remove ${path} as it is not inside the stack folder ${root}`);
  }
  try {
    await Deno.lstat(target);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  if (!(await isFile(`${root}/${STACK_MARKER}`))) {
    throw new StackError(
      `Cannot remove ${target} as ${root} has no ${STACK_MARKER}: the stack deletes only in a ` +
        "folder it made",
    );
  }
  // A link on the way (`<dir>/a -> /`, then `<dir>/a/lib`) would lead the delete outside.
  const realRoot = await Deno.realPath(root);
  const parent = await Deno.realPath(dirname(target));
  if (parent !== realRoot && !parent.startsWith(`${realRoot}/`)) {
    throw new StackError(`Cannot remove ${target} as it resolves outside ${realRoot}`);
  }
  await Deno.remove(target, { recursive: true });
}

async function run(cmd: string, args: string[], opts: { asPostgres?: boolean } = {}) {
  const [bin, argv] = opts.asPostgres && isRoot
    ? ["runuser", ["-u", "postgres", "--", cmd, ...args]]
    : [cmd, args];
  // As postgres, start in "/": the caller's folder may not be readable for that user.
  const out = await new Deno.Command(bin, {
    args: argv,
    cwd: opts.asPostgres ? "/" : undefined,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { ok: out.success, code: out.code, text };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads a pid file and returns the pid if that process is alive and still ours. */
async function livePid(pidFile: string, marker: string): Promise<number | undefined> {
  let pid: number;
  try {
    pid = parseInt((await Deno.readTextFile(pidFile)).trim().split("\n")[0], 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    // A recycled pid belongs to another program: only trust it if its command line is ours.
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    return cmdline.includes(marker) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    return Deno.statSync(`/proc/${pid}`).isDirectory;
  } catch {
    return false;
  }
}

async function tcpOpen(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

async function logTail(path: string, lines = 15): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log yet)";
  }
}

/**
 * Fills a template of stack/conf with the stack folder, the ports and `vars` (`@NAME@`), writes it
 * to `<STACK_DIR>/conf/<out>` and returns that path.
 */
async function renderTemplate(
  name: string,
  vars: Record<string, string | number> = {},
  out = name,
): Promise<string> {
  let text = (await Deno.readTextFile(`${CONF_DIR}/${name}`)).replaceAll("@STACK_DIR@", STACK_DIR);
  // The profile's own values first: connect.properties takes its port from `vars`.
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`@${k}@`, String(v));
  text = text
    .replaceAll("@KAFKA_PORT@", String(LOCAL_PORTS.kafka))
    .replaceAll("@CONTROLLER_PORT@", String(LOCAL_PORTS.kafkaController))
    .replaceAll("@CONNECT_PORT@", String(LOCAL_PORTS.connect));
  const left = /@[A-Z_]+@/.exec(text);
  if (left) throw new StackError(`${name}: placeholder ${left[0]} has no value`);
  const path = `${STACK_DIR}/conf/${out}`;
  await Deno.mkdir(`${STACK_DIR}/conf`, { recursive: true });
  // The rendered files hold Kafka passwords (JAAS lines): the owner's only, like the users file.
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  await Deno.chmod(path, 0o600);
  return path;
}

async function failWithLog(name: string, log: string, why: string): Promise<never> {
  throw new StackError(
    `${name} did not become healthy: ${why}\n  log: ${log}\n  last lines:\n${
      (await logTail(log)).replace(/^/gm, "    ")
    }`,
  );
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

// Written by the postgres user, so it sits in the cluster's folder rather than in LOG_DIR.
const pgLog = `${PG_DIR}/postgres.log`;
/** The owner's login to the maintenance database, with the stack's password for it. */
const pgAdminUrl = async () =>
  `postgres://shop:${(await databasePasswords()).shop}@127.0.0.1:${LOCAL_PORTS.postgres}/postgres`;

// ---------------------------------------------------------------------------------------------
// Database passwords: a random one per role, made once per stack folder

/** Every role of the stack's Postgres that logs in: the owner, the processes', the relay's. */
const DATABASE_ROLES = ["shop", ...SERVICE_ROLES, RELAY_ROLE];
/** Marks a cluster whose owner has a password and whose pg_hba.conf asks every role for one. */
const pgPasswordsMarker = (data: string) => `${data}/shop-passwords`;

/**
 * The stack's database passwords by role, one file each under `<STACK_DIR>/db-passwords/` (mode
 * 0600; src/platform/local_stack.ts reads them for processes, which may each read only their
 * own). Made once and kept: the cluster and the roles hold them. Hex: no quoting anywhere.
 */
async function databasePasswords(): Promise<Record<string, string>> {
  const dir = `${STACK_DIR}/db-passwords`;
  await prepareStackDir();
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const out: Record<string, string> = {};
  for (const role of DATABASE_ROLES) {
    const file = `${dir}/${role}`;
    let password = (await readOr(file, "")).trim();
    if (password === "") {
      password = randomPassword();
      await Deno.writeTextFile(file, password + "\n", { mode: 0o600 });
      await Deno.chmod(file, 0o600);
    }
    out[role] = password;
  }
  return out;
}

/**
 * pg_hba.conf, written at every start: every role, local socket or loopback, ordinary or
 * replication connection, gives its password (scram-sha-256). No `trust`: a local user who reaches
 * the port is not the superuser `shop`.
 */
const PG_HBA = [
  "# Written by stack/components.ts at every start: no trust, a password for every role.",
  "local all all scram-sha-256",
  "host all all 127.0.0.1/32 scram-sha-256",
  "host all all ::1/128 scram-sha-256",
  "local replication all scram-sha-256",
  "host replication all 127.0.0.1/32 scram-sha-256",
  "host replication all ::1/128 scram-sha-256",
  "",
].join("\n");

/**
 * The cluster's data folder and log by their real paths: the postgres user may reach the
 * folder only through its real path, not through the .stack/pg link inside the checkout.
 */
async function pgPaths(): Promise<{ data: string; log: string }> {
  const dir = await Deno.realPath(PG_DIR);
  return { data: `${dir}/data`, log: `${dir}/postgres.log` };
}

/** Where the cluster lives when the postgres user cannot reach STACK_DIR (see below). */
function pgOutsideDir(): string {
  return `/var/lib/postgresql/shop-stack-${sha256Hex(STACK_DIR).slice(0, 8)}`;
}

async function pgEnsureCluster(): Promise<void> {
  await prepareStackDir();
  if (isRoot && !(await exists(PG_DIR))) {
    // Postgres refuses to run as root, so the cluster belongs to the `postgres` system user,
    // which must reach its data folder. Where the checkout is not traversable for it (a clone
    // under a private folder), the cluster lives in postgres's home and .stack/pg links to it.
    const reachable = (await run("test", ["-x", STACK_DIR], { asPostgres: true })).ok;
    if (!reachable) {
      const outside = pgOutsideDir();
      await Deno.mkdir(outside, { recursive: true });
      await Deno.symlink(outside, PG_DIR);
    }
  }
  await Deno.mkdir(PG_DIR, { recursive: true });
  if (isRoot) await run("chown", ["postgres:", `${PG_DIR}/`]);
  const { data } = await pgPaths();
  if (!(await exists(`${data}/PG_VERSION`))) {
    // initdb runs as postgres, which cannot read the stack's 0600 files: the owner's password
    // goes through a file of its own in the cluster's folder, removed right after.
    const pwfile = `${await Deno.realPath(PG_DIR)}/initdb-pwfile`;
    await Deno.writeTextFile(pwfile, (await databasePasswords()).shop + "\n", { mode: 0o600 });
    if (isRoot) await run("chown", ["postgres:", pwfile]);
    const r = await run(`${PG_BIN}/initdb`, [
      "-D",
      data,
      "-U",
      "shop",
      "--auth=scram-sha-256",
      `--pwfile=${pwfile}`,
      "-E",
      "UTF8",
      "--no-locale",
      "--no-instructions",
    ], { asPostgres: true });
    await Deno.remove(pwfile).catch(() => {});
    if (!r.ok) throw new StackError(`postgres: initdb failed (is ${PG_BIN} present?):\n${r.text}`);
    await Deno.writeTextFile(`${data}/postgresql.conf`, "\ninclude 'stack.conf'\n", {
      append: true,
    });
    await Deno.writeTextFile(pgPasswordsMarker(data), "");
  }
  // A cluster made before passwords keeps its old pg_hba.conf (trust) for this start, which sets
  // the owner's password and then writes this one (pgEnsurePasswords).
  if (await exists(pgPasswordsMarker(data))) {
    await Deno.writeTextFile(`${data}/pg_hba.conf`, PG_HBA);
    if (isRoot) await run("chown", ["postgres:", `${data}/pg_hba.conf`]);
  }
  // Written at every start so edits to stack/conf/postgresql.conf apply on the next `up`.
  await Deno.writeTextFile(
    `${data}/stack.conf`,
    (await Deno.readTextFile(`${CONF_DIR}/postgresql.conf`))
      .replaceAll("@PG_PORT@", String(LOCAL_PORTS.postgres)),
  );
  if (isRoot) await run("chown", ["postgres:", `${data}/stack.conf`]);
}

/**
 * Deletes the cluster's data: `<STACK_DIR>/pg` and, when that links to the folder this stack
 * made in postgres's home, that exact folder too (never another link target).
 */
export async function removePgData(): Promise<void> {
  const link = await Deno.readLink(PG_DIR).catch(() => undefined);
  await safeRemove(PG_DIR);
  if (link === pgOutsideDir()) {
    await Deno.remove(link, { recursive: true }).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }
}

async function pgHealth(): Promise<{ ok: boolean; detail: string }> {
  const sql = postgres(await pgAdminUrl(), { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    const [row] = await sql<{ wal: string; v: string }[]>`
      select current_setting('wal_level') as wal, current_setting('server_version') as v`;
    const ok = row.wal === "logical";
    return { ok, detail: `PostgreSQL ${row.v}, wal_level=${row.wal}` };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * A cluster made before passwords (trust for everyone, the owner without a password) is moved to
 * them in place: the owner gets the stack's password, pg_hba.conf asks every role for one, and
 * the server reloads it. Service roles get theirs from `deno task setup`.
 */
async function pgEnsurePasswords(): Promise<void> {
  const { data } = await pgPaths();
  if (await exists(pgPasswordsMarker(data))) return;
  const sql = postgres(`postgres://shop@127.0.0.1:${LOCAL_PORTS.postgres}/postgres`, {
    max: 1,
    onnotice: () => {},
  });
  try {
    await setRolePassword(sql, "shop", (await databasePasswords()).shop);
    await Deno.writeTextFile(`${data}/pg_hba.conf`, PG_HBA);
    if (isRoot) await run("chown", ["postgres:", `${data}/pg_hba.conf`]);
    await sql`select pg_reload_conf()`;
  } finally {
    await sql.end();
  }
  await Deno.writeTextFile(pgPasswordsMarker(data), "");
  console.error("postgres: made before passwords; the owner now has one, every role needs one");
}

async function pgEnsureDatabase(): Promise<void> {
  const sql = postgres(await pgAdminUrl(), { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select 1 from pg_database where datname = 'shop'`;
    if (rows.length === 0) await sql`create database shop`;
  } finally {
    await sql.end();
  }
}

const postgresComponent: Component = {
  name: "postgres",
  port: LOCAL_PORTS.postgres,
  log: pgLog,
  async pid() {
    return await livePid(`${PG_DATA}/postmaster.pid`, "postgres");
  },
  async start() {
    if (await this.pid()) return;
    if (await tcpOpen(this.port)) {
      throw new StackError(
        `postgres: port ${this.port} is in use by another process; stop it or free the port`,
      );
    }
    await pgEnsureCluster();
    const paths = await pgPaths();
    const r = await run(`${PG_BIN}/pg_ctl`, [
      "-D",
      paths.data,
      "-l",
      paths.log,
      "-w",
      "-t",
      "60",
      "start",
    ], { asPostgres: true });
    if (!r.ok) await failWithLog("postgres", pgLog, `pg_ctl start failed: ${r.text.trim()}`);
    await pgEnsurePasswords();
    await waitFor(async () => (await pgHealth()).ok, {
      timeoutMs: 30_000,
      what: "postgres to accept connections",
    }).catch((err) => failWithLog("postgres", pgLog, err.message));
    await pgEnsureDatabase();
  },
  async stop(opts = {}) {
    const pid = await this.pid();
    if (!pid) return;
    if (opts.kill) {
      Deno.kill(pid, "SIGKILL");
      await waitFor(() => !alive(pid), { timeoutMs: 10_000, what: "postgres to die" });
      return;
    }
    // Fast shutdown: roll back open transactions, checkpoint, exit.
    const { data } = await pgPaths();
    await run(`${PG_BIN}/pg_ctl`, ["-D", data, "-m", "fast", "-w", "-t", "60", "stop"], {
      asPostgres: true,
    });
  },
  health: pgHealth,
};

// ---------------------------------------------------------------------------------------------
// Kafka credentials: a random password per principal, made once per stack folder

/** The stack's Kafka passwords by user (src/platform/local_stack.ts reads it for processes). */
export const KAFKA_USERS_FILE = `${STACK_DIR}/kafka-users.json`;
/** Written after a format with SCRAM users: the users that format created, one per line. */
const scramMarker = (dataDir: string) => `${dataDir}/shop-scram-users`;

const randomPassword = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(24)), (b) => b.toString(16).padStart(2, "0"))
    .join("");

/**
 * The stack's Kafka passwords: every SCRAM user's and the controller identity's. Made once (mode
 * 0600) and kept: Kafka's storage holds the SCRAM users made from them at format time. Hex, so
 * they need no quoting in JAAS lines nor in StorageTool's `--add-scram` syntax.
 */
export function kafkaUsers(): Promise<Record<string, string>> {
  // One at a time: the cluster's nodes are rendered and formatted concurrently, and two calls that
  // both found the file missing made two sets of passwords (one node's controller login then
  // failed every vote: "Invalid username or password", the node exited). Each call now reads what
  // the one before it wrote.
  const run = usersQueue.then(loadOrMakeKafkaUsers);
  usersQueue = run.catch(() => {});
  return run;
}
let usersQueue: Promise<unknown> = Promise.resolve();

async function loadOrMakeKafkaUsers(): Promise<Record<string, string>> {
  const kept = JSON.parse(await readOr(KAFKA_USERS_FILE, "{}")) as Record<string, string>;
  const wanted = [...scramUsers(), CONTROLLER_USER];
  const missing = wanted.filter((u) => !kept[u]);
  if (missing.length === 0) return kept;
  for (const u of missing) kept[u] = randomPassword();
  await prepareStackDir();
  await Deno.writeTextFile(KAFKA_USERS_FILE, JSON.stringify(kept, null, 2) + "\n", {
    mode: 0o600,
  });
  await Deno.chmod(KAFKA_USERS_FILE, 0o600);
  return kept;
}

/** The stack's own admin login (health probes, `stack:status`). */
export async function stackAdminAccess(brokers: string[]) {
  const users = await kafkaUsers();
  return { brokers, login: { username: PRINCIPALS.admin, password: users[PRINCIPALS.admin] } };
}

/** Template values of a broker's SASL settings (server*.properties). */
async function brokerSecrets(): Promise<Record<string, string>> {
  const users = await kafkaUsers();
  return {
    BROKER_USER,
    BROKER_PASSWORD: users[BROKER_USER],
    CONTROLLER_USER,
    CONTROLLER_PASSWORD: users[CONTROLLER_USER],
    SUPER_USERS: SUPER_USERS.map((u) => `User:${u}`).join(";"),
  };
}

/** StorageTool's `--add-scram` arguments: every SCRAM user, created in the first metadata. */
async function addScramArgs(): Promise<string[]> {
  const users = await kafkaUsers();
  return scramUsers().flatMap((u) => [
    "--add-scram",
    `SCRAM-SHA-512=[name=${u},password=${users[u]}]`,
  ]);
}

/**
 * Refuses a node's storage formatted without this stack's SCRAM users (a folder from before SASL,
 * or from before a principal was added): no client could log in to it. Its data is the stack's
 * own, so the way out is a reset.
 */
async function checkScramUsers(name: string, dataDir: string): Promise<void> {
  const made = new Set((await readOr(scramMarker(dataDir))).split("\n").filter(Boolean));
  const missing = scramUsers().filter((u) => !made.has(u));
  if (missing.length === 0) return;
  throw new StackError(
    `${name}: Kafka's storage in ${dataDir} was formatted ${
      made.size === 0 ? "without SASL/SCRAM users (before Kafka required logins)" : "before the " +
        `principal(s) ${missing.join(", ")} existed`
    }; SCRAM users are created only when the storage is formatted. Run 'deno task stack:reset' ` +
      "(deletes the stack's data, keeps the jars), then 'deno task stack:up'",
  );
}

/** Records that `dataDir` was formatted with every SCRAM user of the table. */
async function markScramUsers(dataDir: string): Promise<void> {
  await Deno.writeTextFile(scramMarker(dataDir), scramUsers().join("\n") + "\n");
}

// ---------------------------------------------------------------------------------------------
// JVM components (Kafka nodes, Kafka Connect workers)

function javaArgs(heap: string, log4j: string, mainClass: string, conf: string): string[] {
  return [
    `-Xms${heap}`,
    `-Xmx${heap}`,
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-Djava.awt.headless=true",
    `-Dlog4j2.configurationFile=${log4j}`,
    // Marks the process as this stack's, so `down` never touches another Kafka on the machine.
    `-Dshop.stack.dir=${STACK_DIR}`,
    "-cp",
    `${STACK_DIR}/lib/*`,
    mainClass,
    conf,
  ];
}

/**
 * The environment of a JVM: this process's, without the relay's password unless `relayPassword`
 * is given (Connect workers, whose config provider reads it): then the caller's
 * RELAY_DATABASE_PASSWORD if set (as a deployment does), else `relayPassword` (the stack's own).
 */
export function jvmEnv(
  relayPassword: string | false,
  from: Record<string, string> = Deno.env.toObject(),
): Record<string, string> {
  const env = { ...from };
  delete env[RELAY_PASSWORD_VAR];
  if (relayPassword !== false) env[RELAY_PASSWORD_VAR] = from[RELAY_PASSWORD_VAR] ?? relayPassword;
  return env;
}

async function spawnDetached(
  name: string,
  args: string[],
  env: Record<string, string>,
): Promise<void> {
  await Deno.mkdir(RUN_DIR, { recursive: true });
  await Deno.mkdir(LOG_DIR, { recursive: true });
  const pidFile = `${RUN_DIR}/${name}.pid`;
  const log = `${LOG_DIR}/${name}.log`;
  // setsid: the JVM outlives this process and ignores the terminal's Ctrl-C; `exec` keeps the
  // pid written by the shell equal to the JVM's.
  const script = `echo $$ > "$0"; exec java "$@" >> "$STACK_LOG" 2>&1 < /dev/null`;
  const out = await new Deno.Command("setsid", {
    args: ["-f", "sh", "-c", script, pidFile, ...args],
    env: { ...env, STACK_LOG: log },
    clearEnv: true,
    stdin: "null",
  }).output();
  if (!out.success) throw new StackError(`${name}: could not spawn java`);
  await waitFor(() => exists(pidFile), { timeoutMs: 5_000, what: `${name} pid file` });
}

async function stopPid(name: string, pid: number, kill: boolean): Promise<void> {
  Deno.kill(pid, kill ? "SIGKILL" : "SIGTERM");
  try {
    await waitFor(() => !alive(pid), { timeoutMs: 30_000, what: `${name} to stop` });
  } catch {
    Deno.kill(pid, "SIGKILL");
    await waitFor(() => !alive(pid), { timeoutMs: 10_000, what: `${name} to die` });
  }
}

function jvmComponent(spec: {
  name: ComponentName;
  port: number;
  heap: string;
  mainClass: string;
  /** Renders the component's config file and returns its path. */
  conf: () => Promise<string>;
  prepare?: (conf: string) => Promise<void>;
  probe: () => Promise<{ ok: boolean; detail: string }>;
  readyWithinMs: number;
  /** Whether the process gets RELAY_DATABASE_PASSWORD (Connect workers only). */
  relayPassword?: boolean;
  /**
   * Starts the process again when it exits before it is ready, until `readyWithinMs` has passed
   * since the first start. @default false. A Connect worker exits when its first cluster
   * description times out (`default.api.timeout.ms`, 5 s here, kept short for failover), which a
   * machine busy on 2 cores causes (three tries in a row failed at a load average of 25); a
   * supervisor would start it again, and so does the stack.
   */
  restartOnEarlyExit?: boolean;
}): Component {
  const pidFile = `${RUN_DIR}/${spec.name}.pid`;
  const log = `${LOG_DIR}/${spec.name}.log`;
  return {
    name: spec.name,
    port: spec.port,
    log,
    pid: () => livePid(pidFile, `-Dshop.stack.dir=${STACK_DIR}`),
    async start() {
      if (await this.pid()) return;
      if (await tcpOpen(spec.port)) {
        throw new StackError(
          `${spec.name}: port ${spec.port} is in use by another process; stop it or free the ` +
            "port (the other profile of this stack? 'deno task stack:status')",
        );
      }
      if (!(await exists(`${STACK_DIR}/lib`))) {
        throw new StackError(
          `${spec.name}: no jars in ${STACK_DIR}/lib; run 'deno task stack:fetch'`,
        );
      }
      await prepareStackDir();
      const conf = await spec.conf();
      const log4j = await renderTemplate("log4j2.properties");
      await spec.prepare?.(conf);
      await Deno.mkdir(LOG_DIR, { recursive: true });
      await Deno.writeTextFile(log, `\n=== start ${new Date().toISOString()} ===\n`, {
        append: true,
      });
      const deadline = performance.now() + spec.readyWithinMs;
      for (let attempt = 1;; attempt++) {
        await spawnDetached(
          spec.name,
          javaArgs(spec.heap, log4j, spec.mainClass, conf),
          jvmEnv(spec.relayPassword ? (await databasePasswords())[RELAY_ROLE] : false),
        );
        let verdict: "ready" | "exited";
        try {
          verdict = await waitFor(async () => {
            if (!(await this.pid())) return "exited";
            return (await spec.probe()).ok ? "ready" : undefined;
          }, {
            timeoutMs: Math.max(1000, deadline - performance.now()),
            what: `${spec.name} readiness`,
          });
        } catch (err) {
          return await failWithLog(spec.name, log, (err as Error).message);
        }
        if (verdict === "ready") return;
        if (!spec.restartOnEarlyExit || performance.now() > deadline) {
          await failWithLog(spec.name, log, "the process exited");
        }
        console.error(`${spec.name} exited while starting (attempt ${attempt}); starting again`);
        await Deno.writeTextFile(log, `\n=== start again ${new Date().toISOString()} ===\n`, {
          append: true,
        });
      }
    },
    async stop(opts = {}) {
      const pid = await this.pid();
      if (pid) await stopPid(spec.name, pid, opts.kill ?? false);
    },
    health: spec.probe,
  };
}

/**
 * A Kafka node's health from its own port: the cluster's brokers as that node reports them.
 * `nodeId` (cluster profile): healthy only once the node itself is a registered, unfenced broker,
 * so a restarted node counts as back when the others see it.
 */
async function kafkaProbe(
  port: number,
  nodeId?: number,
): Promise<{ ok: boolean; detail: string }> {
  if (!(await tcpOpen(port))) return { ok: false, detail: "port closed" };
  const admin = kafkaClient(await stackAdminAccess([`127.0.0.1:${port}`]), "stack-probe", {
    silent: true,
    retries: 0,
  }).admin();
  try {
    await admin.connect();
    const c = await admin.describeCluster();
    const ok = nodeId === undefined
      ? c.brokers.length > 0
      : c.brokers.some((b) => b.nodeId === nodeId);
    return {
      ok,
      detail: `${c.brokers.length} broker(s) [${
        c.brokers.map((b) => b.nodeId).sort().join(",")
      }], controller ${c.controller}`,
    };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Formats the single node's storage (a standalone quorum of one). */
function kafkaFormatStorage(conf: string): Promise<void> {
  return formatStorage("kafka", `${STACK_DIR}/kafka/data`, conf, randomClusterId, ["--standalone"]);
}

/**
 * Formats a node's storage in `data` with the stack's SCRAM users (its first metadata has them),
 * unless it is formatted already: then it only checks that those users are there.
 */
async function formatStorage(
  label: string,
  data: string,
  conf: string,
  clusterId: () => Promise<string>,
  extra: string[] = [],
): Promise<void> {
  if (await exists(`${data}/meta.properties`)) return await checkScramUsers(label, data);
  await Deno.mkdir(data, { recursive: true });
  const f = await run("java", [
    ...STORAGE_TOOL,
    "format",
    "-t",
    await clusterId(),
    "-c",
    conf,
    ...extra,
    ...await addScramArgs(),
  ]);
  if (!f.ok) throw new StackError(`${label}: storage format failed:\n${f.text}`);
  await markScramUsers(data);
}

/** Kafka's StorageTool (formats storage, makes cluster ids) on the stack's jars. */
const STORAGE_TOOL = ["-cp", `${STACK_DIR}/lib/*`, "kafka.tools.StorageTool"];

/** A new cluster id, from Kafka's own StorageTool. */
async function randomClusterId(): Promise<string> {
  const id = await run("java", [...STORAGE_TOOL, "random-uuid"]);
  if (!id.ok) throw new StackError(`kafka: could not make a cluster id:\n${id.text}`);
  return id.text.trim().split("\n").pop()!.trim();
}

/** A cluster id made once and kept in `file`: every node of one cluster is formatted with it. */
async function makeClusterId(file: string): Promise<string> {
  const kept = (await readOr(file)).trim();
  if (kept) return kept;
  const clusterId = await randomClusterId();
  await Deno.mkdir(dirname(file), { recursive: true });
  await Deno.writeTextFile(file, clusterId);
  return clusterId;
}

// The three nodes are prepared at once: one promise, so they never make three different ids.
let clusterId: Promise<string> | undefined;
function kafkaClusterId(file: string): Promise<string> {
  clusterId ??= makeClusterId(file).catch((err) => {
    clusterId = undefined;
    throw err;
  });
  return clusterId;
}

/**
 * Formats one cluster node's storage with the cluster's shared id. The quorum is static
 * (`controller.quorum.voters` names all three), so no `--standalone` / `--initial-controllers`.
 */
function clusterFormatStorage(nodeId: number) {
  // The same users on every node: each node's first metadata must agree.
  return (conf: string): Promise<void> =>
    formatStorage(
      `kafka-${nodeId}`,
      `${STACK_DIR}/kafka/node-${nodeId}`,
      conf,
      () => kafkaClusterId(`${STACK_DIR}/kafka/cluster-id`),
    );
}

async function connectProbe(url: string): Promise<{ ok: boolean; detail: string }> {
  try {
    const root = await fetch(url, { signal: AbortSignal.timeout(2000) });
    const info = await root.json() as { version?: string };
    const res = await fetch(`${url}/connector-plugins`, {
      signal: AbortSignal.timeout(2000),
    });
    const plugins = await res.json() as { class: string }[];
    const ok = plugins.some((p) =>
      p.class === "io.debezium.connector.postgresql.PostgresConnector"
    );
    return {
      ok,
      detail: ok
        ? `Connect ${info.version}, Debezium PostgresConnector loaded`
        : "Debezium PostgresConnector plugin not loaded",
    };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
}

/** The Connect URL of a worker listening on `port`. */
export const connectUrlOf = (port: number) => `http://127.0.0.1:${port}`;

const clusterBootstrap = CLUSTER_NODES.map((n) => `127.0.0.1:${n.port}`).join(",");

/**
 * Before a Connect worker starts: the ACL table applied (idempotent), since the worker needs its
 * group and storage topics' grants to start at all, and setup runs only after the stack is up.
 */
async function connectAcls(profile: StackProfile): Promise<void> {
  const brokers = profile === "cluster"
    ? clusterBootstrap.split(",")
    : [`127.0.0.1:${LOCAL_PORTS.kafka}`];
  await applyKafkaAcls(await stackAdminAccess(brokers)).catch((err) => {
    throw new StackError(`Kafka ACLs could not be applied: ${(err as Error).message}`);
  });
}

/** Connect worker settings that differ between the profiles (see stack/conf/connect.properties). */
function connectConf(port: number, profile: StackProfile, out: string) {
  return async () =>
    renderTemplate("connect.properties", {
      CONNECT_USER: PRINCIPALS.connect,
      CONNECT_PASSWORD: (await kafkaUsers())[PRINCIPALS.connect],
      BOOTSTRAP_SERVERS: profile === "cluster"
        ? clusterBootstrap
        : `127.0.0.1:${LOCAL_PORTS.kafka}`,
      CONNECT_PORT: port,
      REPLICATION_FACTOR: profile === "cluster" ? 3 : 1,
    }, out);
}

/**
 * Heaps: the single node's broker 512 MB and Connect 768 MB; the cluster's are smaller, since
 * three brokers and two Connect workers share one machine (docs/cluster.md has what they use).
 */
const CLUSTER_KAFKA_HEAP = "384m";
const CLUSTER_CONNECT_HEAP = "512m";

function clusterNode(node: KafkaNode): Component {
  const name = `kafka-${node.id}` as ComponentName;
  return jvmComponent({
    name,
    port: node.port,
    heap: CLUSTER_KAFKA_HEAP,
    mainClass: "kafka.Kafka",
    conf: async () =>
      renderTemplate("server-cluster.properties", {
        ...await brokerSecrets(),
        NODE_ID: node.id,
        NODE_PORT: node.port,
        NODE_CONTROLLER_PORT: node.controllerPort,
        QUORUM_VOTERS: CLUSTER_NODES.map((n) => `${n.id}@127.0.0.1:${n.controllerPort}`).join(
          ",",
        ),
      }, `${name}.properties`),
    prepare: clusterFormatStorage(node.id),
    probe: () => kafkaProbe(node.port, node.id),
    readyWithinMs: 120_000,
  });
}

function clusterConnect(index: number, port: number): Component {
  const name = `connect-${index}` as ComponentName;
  return jvmComponent({
    name,
    port,
    heap: CLUSTER_CONNECT_HEAP,
    mainClass: "org.apache.kafka.connect.cli.ConnectDistributed",
    conf: connectConf(port, "cluster", `${name}.properties`),
    prepare: () => connectAcls("cluster"),
    probe: () => connectProbe(connectUrlOf(port)),
    readyWithinMs: 180_000,
    relayPassword: true,
    restartOnEarlyExit: true,
  });
}

export const components: Record<ComponentName, Component> = {
  postgres: postgresComponent,
  kafka: jvmComponent({
    name: "kafka",
    port: LOCAL_PORTS.kafka,
    heap: "512m",
    mainClass: "kafka.Kafka",
    conf: async () => renderTemplate("server.properties", await brokerSecrets()),
    prepare: kafkaFormatStorage,
    probe: () => kafkaProbe(LOCAL_PORTS.kafka),
    readyWithinMs: 90_000,
  }),
  connect: jvmComponent({
    name: "connect",
    port: LOCAL_PORTS.connect,
    heap: "768m",
    mainClass: "org.apache.kafka.connect.cli.ConnectDistributed",
    conf: connectConf(LOCAL_PORTS.connect, "single", "connect.properties"),
    prepare: () => connectAcls("single"),
    probe: () => connectProbe(connectUrlOf(LOCAL_PORTS.connect)),
    readyWithinMs: 120_000,
    relayPassword: true,
    restartOnEarlyExit: true,
  }),
  "kafka-1": clusterNode(CLUSTER_NODES[0]),
  "kafka-2": clusterNode(CLUSTER_NODES[1]),
  "kafka-3": clusterNode(CLUSTER_NODES[2]),
  "connect-1": clusterConnect(1, CLUSTER_CONNECT_PORTS[0]),
  "connect-2": clusterConnect(2, CLUSTER_CONNECT_PORTS[1]),
};

/** The cluster profile's Kafka nodes and Connect workers, by name. */
export const KAFKA_NODES: ComponentName[] = ["kafka-1", "kafka-2", "kafka-3"];
export const CONNECT_WORKERS: ComponentName[] = ["connect-1", "connect-2"];

/**
 * Start stages of each profile: the components of one stage start together (a KRaft node waits
 * for a quorum of voters, so the cluster's three must start at once); `down` goes the other way.
 */
export const STAGES: Record<StackProfile, ComponentName[][]> = {
  single: [["postgres"], ["kafka"], ["connect"]],
  // The Connect workers one after the other: the first creates Connect's topics, the second joins.
  cluster: [["postgres"], KAFKA_NODES, ["connect-1"], ["connect-2"]],
};

/** Every component of `profile`, in start order. */
export const profileOrder = (profile: StackProfile): ComponentName[] => STAGES[profile].flat();

/** The single-node profile's start order (kept for callers that predate profiles). */
export const ORDER: ComponentName[] = profileOrder("single");

/** Every component of both profiles, in stop order (Connect, then Kafka, then Postgres). */
export const STOP_ORDER: ComponentName[][] = [
  ["connect-2", "connect-1", "connect"],
  ["kafka-1", "kafka-2", "kafka-3", "kafka"],
  ["postgres"],
];
