/**
 * The one place that knows the Kafka client library (kafkajs, no longer actively maintained):
 * keep client construction and admin helpers here so another client could replace it.
 */
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  Kafka,
  logLevel as KafkaLogLevel,
  Partitioners,
  ResourcePatternTypes,
} from "kafkajs";
import type { Admin } from "kafkajs";
import process from "node:process";
import { type Logger, logger } from "./log.ts";
import type { Config } from "./config.ts";
import { localKafkaPassword, localKafkaUsersFile } from "./local_stack.ts";

// kafkajs schedules some timers with a negative delay, which Node-compatible runtimes report
// as TimeoutNegativeWarning on stderr (the timer then fires at once, which is what kafkajs
// meant). Drop exactly that warning so it does not pollute the JSON logs.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const name = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string })?.type;
  if (name === "TimeoutNegativeWarning") return;
  (emitWarning as (...a: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

export type { Admin, Consumer, EachMessagePayload, Kafka, KafkaMessage, Producer } from "kafkajs";

const LEVELS: Record<number, "error" | "warn" | "info" | "debug"> = {
  [KafkaLogLevel.ERROR]: "error",
  [KafkaLogLevel.WARN]: "warn",
  [KafkaLogLevel.INFO]: "info",
  [KafkaLogLevel.DEBUG]: "debug",
};

/** A SASL/SCRAM-SHA-512 login: a principal and its password. */
export interface KafkaLogin {
  username: string;
  password: string;
}

/**
 * Where Kafka is and who a client logs in as. `"anonymous"` (no SASL) exists only for the tests
 * that prove the brokers refuse it; every process logs in as its own principal.
 */
export interface KafkaAccess {
  brokers: string[];
  login: KafkaLogin | "anonymous";
}

/** Kafka has no login for this process: neither configured nor in the local stack's file. */
export class KafkaLoginError extends Error {
  override name = "KafkaLoginError";
}

/**
 * The Kafka access of a process whose own principal is `principal`: KAFKA_USERNAME and
 * KAFKA_PASSWORD when set (a deployment; the variables then win over `principal`), else the local
 * stack's password of `principal` (src/platform/local_stack.ts), so `deno task dev`, the tests
 * and CI need no setup.
 * @throws {KafkaLoginError} naming the variables and the file when neither is there.
 */
export function kafkaAccess(
  cfg: Pick<Config, "kafkaBrokers" | "kafkaUsername" | "kafkaPassword">,
  principal: string,
): KafkaAccess {
  if (cfg.kafkaUsername !== undefined && cfg.kafkaPassword !== undefined) {
    return {
      brokers: cfg.kafkaBrokers,
      login: { username: cfg.kafkaUsername, password: cfg.kafkaPassword },
    };
  }
  const password = localKafkaPassword(principal);
  if (password === undefined) {
    throw new KafkaLoginError(
      `Cannot log in to Kafka as ${principal}: KAFKA_USERNAME and KAFKA_PASSWORD are unset and ` +
        `the local stack's ${localKafkaUsersFile()} has no password for it (run 'deno task ` +
        "stack:up', or set the variables)",
    );
  }
  return { brokers: cfg.kafkaBrokers, login: { username: principal, password } };
}

export interface KafkaClientOptions {
  /** No client logs at all (health probes that expect failures). @default false */
  silent?: boolean;
  /** Retries of each request before it fails. @default 20 (about 35 s, see below) */
  retries?: number;
}

/**
 * A kafkajs client logged in as `access.login` (SASL/SCRAM-SHA-512 over plaintext: the brokers
 * refuse clients without a login), whose logs go through our JSON logger. The password reaches
 * kafkajs only; kafkajs logs neither it nor the SCRAM exchange.
 */
export function kafkaClient(
  access: KafkaAccess,
  clientId: string,
  options: KafkaClientOptions = {},
): Kafka {
  const log = logger("kafkajs", { clientId });
  return new Kafka({
    clientId,
    brokers: access.brokers,
    ssl: false,
    ...(access.login === "anonymous" ? {} : {
      sasl: {
        mechanism: "scram-sha-512" as const,
        username: access.login.username,
        password: access.login.password,
      },
    }),
    logLevel: options.silent ? KafkaLogLevel.NOTHING : KafkaLogLevel.WARN,
    connectionTimeout: 3000,
    // Each wait at most 2 s (kafkajs' default grows to 30 s): the client's own lookups (the
    // group coordinator, metadata, a broker's connection) retry on this schedule, so after a
    // broker died they try its successor every 2 s at most instead of after 12.8 or 25.6 s. 20
    // retries keep about the patience of the former 8 with growing waits (~35 s instead of ~51 s).
    retry: { retries: options.retries ?? 20, initialRetryTime: 200, maxRetryTime: 2000 },
    logCreator: () => ({ namespace, level, log: entry }) => {
      const { message, timestamp: _t, logger: _l, ...rest } = entry;
      (log as Logger)[LEVELS[level] ?? "info"](message, { namespace, ...rest });
    },
  });
}

/**
 * Whether `err` (or an error in its `cause` chain, where kafkajs wraps the broker's) says that
 * another live consumer registered this consumer's static instance id (FENCED_INSTANCE_ID). Such a
 * consumer must stay stopped: a new one with the same id would fence the other in turn.
 */
export function isFencedInstance(err: unknown): boolean {
  for (let e = err as { type?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.type === "FENCED_INSTANCE_ID") return true;
  }
  return false;
}

/**
 * Producer options for records that must land where Debezium puts their key: kafkajs 2's
 * default partitioner is the Java client's murmur2, named explicitly (which also silences its
 * "switched default partitioner" warning).
 */
export const keyedProducer = {
  createPartitioner: Partitioners.DefaultPartitioner,
  idempotent: true,
} as const;

export interface TopicSpec {
  partitions: number;
  replicationFactor: number;
}

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
  /** Existing topics with a partition count other than asked; left alone (see below). */
  mismatched: { topic: string; partitions: number }[];
}

/**
 * Creates the topics that do not exist yet, waiting for their leaders. Existing topics are never
 * changed: adding partitions would move keys to other partitions and break per-key order, so a
 * mismatch is reported for an operator to decide.
 */
export async function ensureTopics(
  admin: Admin,
  topics: string[],
  spec: TopicSpec,
): Promise<EnsureTopicsResult> {
  const present = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !present.has(t));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: spec.partitions,
        replicationFactor: spec.replicationFactor,
      })),
    });
  }
  const existing = topics.filter((t) => present.has(t));
  const mismatched: EnsureTopicsResult["mismatched"] = [];
  if (existing.length > 0) {
    const meta = await admin.fetchTopicMetadata({ topics: existing });
    for (const t of meta.topics) {
      if (t.partitions.length !== spec.partitions) {
        mismatched.push({ topic: t.name, partitions: t.partitions.length });
      }
    }
  }
  return { created: missing, existing, mismatched };
}

// ---------------------------------------------------------------------------------------------
// ACLs: the kafkajs side of src/kafka_acls.ts (the table lives there, above the platform).

export type AclResource = "topic" | "group" | "cluster" | "transactional-id";
export type AclPattern = "literal" | "prefixed";
export type AclOperation =
  | "all"
  | "read"
  | "write"
  | "create"
  | "delete"
  | "alter"
  | "describe"
  | "cluster-action"
  | "describe-configs"
  | "alter-configs"
  | "idempotent-write";
export type AclPermission = "allow" | "deny";

/** One ACL binding, host `*`. */
export interface Acl {
  /** The SCRAM user, without `User:`. */
  principal: string;
  resource: AclResource;
  /** The resource's name (a prefix when `pattern` is prefixed); `kafka-cluster` for the cluster. */
  name: string;
  pattern: AclPattern;
  operation: AclOperation;
  permission: AclPermission;
}

const RESOURCE: Record<AclResource, number> = {
  topic: AclResourceTypes.TOPIC,
  group: AclResourceTypes.GROUP,
  cluster: AclResourceTypes.CLUSTER,
  "transactional-id": AclResourceTypes.TRANSACTIONAL_ID,
};
const PATTERN: Record<AclPattern, number> = {
  literal: ResourcePatternTypes.LITERAL,
  prefixed: ResourcePatternTypes.PREFIXED,
};
const OPERATION: Record<AclOperation, number> = {
  all: AclOperationTypes.ALL,
  read: AclOperationTypes.READ,
  write: AclOperationTypes.WRITE,
  create: AclOperationTypes.CREATE,
  delete: AclOperationTypes.DELETE,
  alter: AclOperationTypes.ALTER,
  describe: AclOperationTypes.DESCRIBE,
  "cluster-action": AclOperationTypes.CLUSTER_ACTION,
  "describe-configs": AclOperationTypes.DESCRIBE_CONFIGS,
  "alter-configs": AclOperationTypes.ALTER_CONFIGS,
  "idempotent-write": AclOperationTypes.IDEMPOTENT_WRITE,
};
const PERMISSION: Record<AclPermission, number> = {
  allow: AclPermissionTypes.ALLOW,
  deny: AclPermissionTypes.DENY,
};
const invert = <K extends string>(m: Record<K, number>) =>
  new Map(Object.entries(m).map(([k, v]) => [v as number, k as K]));
const RESOURCE_OF = invert(RESOURCE);
const PATTERN_OF = invert(PATTERN);
const OPERATION_OF = invert(OPERATION);
const PERMISSION_OF = invert(PERMISSION);

/** A stable text of one ACL, for comparing sets. */
export const aclKey = (a: Acl) =>
  [a.principal, a.resource, a.pattern, a.name, a.operation, a.permission].join(" ");

const toKafkajs = (a: Acl) => ({
  resourceType: RESOURCE[a.resource],
  resourceName: a.name,
  resourcePatternType: PATTERN[a.pattern],
  principal: `User:${a.principal}`,
  host: "*",
  operation: OPERATION[a.operation],
  permissionType: PERMISSION[a.permission],
});

/** Every ACL of the cluster (needs Describe on the cluster: the admin principal). */
export async function listAcls(admin: Admin): Promise<Acl[]> {
  const r = await admin.describeAcls({
    resourceType: AclResourceTypes.ANY,
    resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY,
  });
  const out: Acl[] = [];
  for (const res of r.resources) {
    for (const acl of res.acls) {
      out.push({
        principal: acl.principal.replace(/^User:/, ""),
        resource: RESOURCE_OF.get(res.resourceType) ?? (`unknown-${res.resourceType}` as never),
        name: res.resourceName,
        pattern: PATTERN_OF.get(res.resourcePatternType) ??
          (`unknown-${res.resourcePatternType}` as never),
        operation: OPERATION_OF.get(acl.operation) ?? (`unknown-${acl.operation}` as never),
        permission: PERMISSION_OF.get(acl.permissionType) ??
          (`unknown-${acl.permissionType}` as never),
      });
    }
  }
  return out;
}

/**
 * Makes the cluster's ACLs exactly `wanted`: creates the missing ones and deletes every other
 * (an ACL no longer in the table must not linger with its grant). Idempotent.
 */
export async function syncAcls(
  admin: Admin,
  wanted: Acl[],
): Promise<{ created: Acl[]; deleted: Acl[] }> {
  const present = await listAcls(admin);
  const have = new Set(present.map(aclKey));
  const want = new Set(wanted.map(aclKey));
  const created = wanted.filter((a) => !have.has(aclKey(a)));
  const deleted = present.filter((a) => !want.has(aclKey(a)));
  await createAcls(admin, created);
  await deleteAcls(admin, deleted);
  return { created, deleted };
}

/** Adds `acls` (needs Alter on the cluster: the admin principal). */
export async function createAcls(admin: Admin, acls: Acl[]): Promise<void> {
  if (acls.length > 0) await admin.createAcls({ acl: acls.map(toKafkajs) });
}

/** Removes exactly `acls`: each filter matches one binding, every field given, none ANY. */
export async function deleteAcls(admin: Admin, acls: Acl[]): Promise<void> {
  if (acls.length > 0) await admin.deleteAcls({ filters: acls.map(toKafkajs) });
}
