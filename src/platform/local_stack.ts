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
