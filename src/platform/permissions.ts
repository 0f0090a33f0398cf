/**
 * The Deno permissions of the long-running processes (the API and the workers), computed from
 * their configuration: the network addresses it names and the variables it reads, nothing else.
 * No `--allow-run`, `--allow-write`, `--allow-ffi` or `--allow-sys`; `--allow-read` only of the
 * vendored kafkajs, a CommonJS package whose `require` reads its own files (our assets are
 * imported as text at load and need nothing), and of the local stack's passwords
 * (src/platform/local_stack.ts) only where none is configured (a deployment sets them): its Kafka
 * passwords without KAFKA_USERNAME, and the database password files of the process's own roles
 * only (never the owner's) without DATABASE_PASSWORD. A compromised
 * handler can then reach neither a shell, nor the disk, nor a host the configuration does not
 * name, nor a secret the process has no use for.
 *
 * `deno task api` and `deno task worker` run `src/main/permissions.ts` first, which prints these
 * flags (`deno run $(...) src/main/api.ts`); `deno task dev`, the compose images and the tests'
 * process helpers use the same function, so every way of starting a process runs it sandboxed.
 */
import type { Config } from "./config.ts";
import { CONFIG_VARIABLES } from "./config.ts";
import { isLocalDatabase, localDatabasePasswordFile, localKafkaUsersFile } from "./local_stack.ts";

/**
 * Variables read by the libraries below our code. postgres.js reads `PG` + each option's name
 * (`PGSSL`, `PGMAX`, `PGAPPNAME`, ...) on every pool it makes; kafkajs reads its `KAFKAJS_*`
 * debug switches and `NODE_ENV`. Reading one that is not allowed throws (`NotCapable`), so each
 * must be allowed even though none is set: by prefix, which Deno's `--allow-env` takes.
 */
const LIBRARY_VARIABLES = ["PG*", "KAFKAJS_*", "NODE_ENV"];

/**
 * Variables the local stack's defaults depend on (src/platform/local_stack.ts): its ports, and its
 * folder, which holds the Kafka passwords a process without KAFKA_PASSWORD reads.
 */
const STACK_VARIABLES = ["STACK_PORT_OFFSET", "STACK_DIR"];

export type ProcessKind = "api" | "worker";

/** `host:port` of a URL, with the scheme's default port when it has none. */
function hostPort(url: string, defaultPort: number): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || defaultPort}`;
}

/** The addresses `kind` connects to or listens on, as `--allow-net` entries. */
export function netAllowList(kind: ProcessKind, cfg: Config, listenPorts: number[]): string[] {
  const hosts = new Set<string>();
  hosts.add(hostPort(cfg.databaseUrl, 5432));
  // Every broker of the list: kafkajs connects to the addresses the brokers advertise, which the
  // configuration must name (the cluster profile and compose list all of them).
  for (const b of cfg.kafkaBrokers) hosts.add(b);
  if (kind === "api") {
    hosts.add(hostPort(cfg.kafkaConnectUrl, 80));
    for (const u of Object.values(cfg.workerOpsUrls)) hosts.add(hostPort(u, 80));
  }
  // Port 0 asks the system for any free port: the listener then needs the host without a port.
  for (const p of listenPorts) hosts.add(p === 0 ? "0.0.0.0" : `0.0.0.0:${p}`);
  return [...hosts].sort();
}

/** The variables `kind` may read: the configuration's, the stack's and its libraries'. */
export function envAllowList(): string[] {
  return [...new Set([...CONFIG_VARIABLES, ...STACK_VARIABLES, ...LIBRARY_VARIABLES])].sort();
}

/** The vendored kafkajs (vendor/kafkajs/mod.js loads it with `require`, which reads its files). */
export const KAFKAJS_DIR = new URL("../../vendor/kafkajs/", import.meta.url).pathname.replace(
  /\/$/,
  "",
);

/** The ports a process of `kind` listens on: the API's two, or a worker's ops port. */
export function listenPorts(kind: ProcessKind, cfg: Config, workerPort?: number): number[] {
  return kind === "api" ? [cfg.port, cfg.apiOpsPort] : [cfg.workerPort ?? workerPort ?? 0];
}

/**
 * The local stack's database password files a process logging in as `roles` reads: those roles'
 * own, where the database is the local stack's and no DATABASE_PASSWORD is configured.
 */
export function databasePasswordFiles(cfg: Config, roles: string[]): string[] {
  if (cfg.databasePassword !== undefined || !isLocalDatabase(cfg.databaseUrl)) return [];
  return roles.map(localDatabasePasswordFile);
}

/**
 * `deno run` flags for `kind` with `cfg`, listening on `listenPorts` and logging in to the
 * database as `roles` (the API: its routes' and its console's; a worker: its service's).
 */
export function permissionFlags(
  kind: ProcessKind,
  cfg: Config,
  listenPorts: number[],
  roles: string[],
): string[] {
  return [
    `--allow-net=${netAllowList(kind, cfg, listenPorts).join(",")}`,
    `--allow-env=${envAllowList().join(",")}`,
    // The vendored kafkajs; the local stack's passwords only where no login is configured.
    `--allow-read=${
      [
        KAFKAJS_DIR,
        ...(cfg.kafkaUsername === undefined ? [localKafkaUsersFile()] : []),
        ...databasePasswordFiles(cfg, roles),
      ].join(",")
    }`,
    // Neither process writes, runs a program or loads a native library: no flag grants it.
    "--no-prompt",
  ];
}
