/**
 * Addresses of the local stack that `deno task stack:up` runs (see stack/). They are the defaults
 * of the configuration, so a fresh clone works without any environment. Ports sit away from the
 * standard ones so a system Postgres or Kafka on the same machine does not collide.
 *
 * `STACK_PORT_OFFSET` (default 0) shifts every port, so a second stack (with its own `STACK_DIR`)
 * runs beside the first: CI runs the end-to-end suite against a stack started apart this way, and
 * a fault run can have a stack of its own. Stacks beside each other need offsets at least 10
 * apart (the cluster profile's extra ports sit just above the single node's).
 *
 * `STACK_PROFILE` picks the stack's shape: `single` (default: one Kafka node, one Connect worker,
 * replication factor 1) or `cluster` (three Kafka nodes, two Connect workers, replication factor
 * 3). The configuration's defaults follow the profile (`parseConfig` reads it), so every process
 * started with `STACK_PROFILE=cluster` finds all three brokers and creates topics at RF 3.
 */
function portOffset(): number {
  const raw = Deno.env.get("STACK_PORT_OFFSET") ?? "";
  const n = raw === "" ? 0 : Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 5000) {
    throw new RangeError(
      `Cannot use STACK_PORT_OFFSET as it must be an integer from 0 to 5000: current value is ${
        JSON.stringify(raw)
      }`,
    );
  }
  return n;
}
const offset = portOffset();
/** STACK_PORT_OFFSET, the shift of every port below from the defaults. */
export const PORT_OFFSET = offset;

export const LOCAL_PORTS = {
  postgres: 54329 + offset,
  kafka: 59092 + offset,
  kafkaController: 59093 + offset,
  connect: 58083 + offset,
  // The cluster profile's other nodes: node 1 uses the single node's ports.
  kafka2: 59094 + offset,
  kafkaController2: 59095 + offset,
  kafka3: 59096 + offset,
  kafkaController3: 59097 + offset,
  connect2: 58084 + offset,
} as const;

export type StackProfile = "single" | "cluster";
export const STACK_PROFILES: readonly StackProfile[] = ["single", "cluster"];

/** One Kafka node of the cluster profile (broker and controller in one process). */
export interface KafkaNode {
  id: number;
  port: number;
  controllerPort: number;
}

export const CLUSTER_NODES: readonly KafkaNode[] = [
  { id: 1, port: LOCAL_PORTS.kafka, controllerPort: LOCAL_PORTS.kafkaController },
  { id: 2, port: LOCAL_PORTS.kafka2, controllerPort: LOCAL_PORTS.kafkaController2 },
  { id: 3, port: LOCAL_PORTS.kafka3, controllerPort: LOCAL_PORTS.kafkaController3 },
];

/** The Connect workers of the cluster profile (one distributed group). */
export const CLUSTER_CONNECT_PORTS: readonly number[] = [LOCAL_PORTS.connect, LOCAL_PORTS.connect2];

export interface LocalStack {
  databaseUrl: string;
  /** Comma-separated, as KAFKA_BROKERS. */
  kafkaBrokers: string;
  connectUrl: string;
  topicReplicationFactor: number;
}

/** The addresses and replication factor of the local stack of `profile`. */
export function localStack(profile: StackProfile): LocalStack {
  const databaseUrl = `postgres://shop@127.0.0.1:${LOCAL_PORTS.postgres}/shop`;
  // One Connect URL: any worker of a distributed group answers for the group (it forwards
  // writes to the leader), so worker 1 stands for the group as a load balancer would.
  const connectUrl = `http://127.0.0.1:${LOCAL_PORTS.connect}`;
  if (profile === "cluster") {
    return {
      databaseUrl,
      kafkaBrokers: CLUSTER_NODES.map((n) => `127.0.0.1:${n.port}`).join(","),
      connectUrl,
      topicReplicationFactor: 3,
    };
  }
  return {
    databaseUrl,
    kafkaBrokers: `127.0.0.1:${LOCAL_PORTS.kafka}`,
    connectUrl,
    topicReplicationFactor: 1,
  };
}

/**
 * The profile named by `STACK_PROFILE` in `env` (unset or empty: single).
 * @throws {RangeError} naming the value and the allowed ones.
 */
export function stackProfile(env: Record<string, string | undefined>): StackProfile {
  const raw = env.STACK_PROFILE ?? "";
  if (raw === "") return "single";
  if ((STACK_PROFILES as readonly string[]).includes(raw)) return raw as StackProfile;
  throw new RangeError(
    `Cannot use STACK_PROFILE as it must be one of ${STACK_PROFILES.join(", ")}: current value ` +
      `is ${JSON.stringify(raw)}`,
  );
}

/** The single-node stack's addresses (the default profile). */
export const LOCAL_STACK = localStack("single");

/**
 * The local stack's folder as the processes see it: STACK_DIR (absolute), else `<repo>/.stack`,
 * like stack/components.ts (which also validates it; a bad value fails there first).
 */
export function localStackDir(): string {
  const raw = Deno.env.get("STACK_DIR") ?? "";
  if (raw === "") return new URL("../../.stack", import.meta.url).pathname;
  return raw.replace(/\/+$/, "");
}

/**
 * The local stack's Kafka credentials: one random password per principal, made once per stack
 * folder by `stack:up` (stack/components.ts) and kept in this file (mode 0600). Processes that
 * are given no KAFKA_USERNAME/KAFKA_PASSWORD read their own principal's password from it, so the
 * local stack, the tests and CI need no setup; a deployment sets the variables instead.
 */
export const localKafkaUsersFile = (): string => `${localStackDir()}/kafka-users.json`;

/**
 * The local stack's password of `principal`, or undefined when the file or the entry is missing.
 * Synchronous: it is read once, when a process builds its Kafka client.
 */
export function localKafkaPassword(principal: string): string | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(localKafkaUsersFile());
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  const users = JSON.parse(text) as Record<string, unknown>;
  const password = users[principal];
  return typeof password === "string" && password !== "" ? password : undefined;
}

/**
 * The local stack's database passwords: one random password per role (the owner `shop`, every
 * service role, the relay's), made once per stack folder by `stack:up` (stack/components.ts), one
 * file per role (mode 0600) so that a process's Deno permissions can name its own file only.
 * Postgres asks every role for its password (scram-sha-256, no `trust`): a local user who can
 * reach the port cannot log in as the owner, nor a worker as another service. A deployment sets
 * DATABASE_URL's password, DATABASE_PASSWORD and the others instead.
 */
export const localDatabasePasswordFile = (role: string): string =>
  `${localStackDir()}/db-passwords/${role}`;

/** The local stack's password of `role`, or undefined when its file is missing. */
export function localDatabasePassword(role: string): string | undefined {
  try {
    return Deno.readTextFileSync(localDatabasePasswordFile(role)).trim() || undefined;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/** Whether `url` points at the local stack's Postgres (loopback, the stack's port). */
export function isLocalDatabase(url: string): boolean {
  const u = new URL(url);
  return ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname) &&
    Number(u.port || 5432) === LOCAL_PORTS.postgres;
}

/**
 * `url` with the local stack's password of its user when it names none and points at the local
 * stack's Postgres; any other URL unchanged. Every connection goes through it (src/platform/db.ts),
 * so the local stack, the tests and CI need no password in any variable, as with Kafka's logins.
 */
export function withLocalPassword(url: string): string {
  const u = new URL(url);
  if (u.password !== "" || !isLocalDatabase(url)) return url;
  const password = localDatabasePassword(decodeURIComponent(u.username || "postgres"));
  if (password === undefined) return url;
  u.password = encodeURIComponent(password);
  return u.toString();
}
