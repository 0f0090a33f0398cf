/**
 * Kafka principals and their ACLs: the one table of who may do what on the log (ARCHITECTURE
 * "Service boundaries"; docs/operations.md "Security model" shows it). Generated from the
 * workers' groups and topics (src/workers.ts) and the aggregate types (src/events/topics.ts), so a
 * new service or topic gets its grants without an edit here. `deno task setup` makes the
 * cluster's ACLs exactly this table (src/system_setup.ts); the local stack creates every
 * principal's SCRAM user when it formats Kafka's storage (stack/components.ts).
 *
 * Super users (server.properties `super.users`) are only the brokers' own identity, the
 * controllers' identity and `admin` (setup: topics, ACLs); they need no ACLs.
 */
import {
  type Acl,
  type AclOperation,
  type AclPattern,
  type AclResource,
  type KafkaAccess,
  kafkaClient,
  syncAcls,
} from "./platform/kafka.ts";
import { AGGREGATE_TYPES, dlqTopicFor, TOPIC_PREFIX, topicFor } from "./events/topics.ts";
import { SERVICES } from "./workers.ts";

/** The brokers' identity on the inter-broker listener (SCRAM-SHA-512); a super user. */
export const BROKER_USER = "kafka";
/** The identity on the controller listener (SASL/PLAIN, not SCRAM: see the decision); a super user. */
export const CONTROLLER_USER = "controller";

/** The principal of each kind of process. */
export const PRINCIPALS = {
  /** `deno task setup`/`topics`, `stack:status`, the stack's health probes: a super user. */
  admin: "admin",
  /** Kafka Connect workers and the relay's task (Debezium). */
  connect: "connect",
  /** The API process (readiness watch, ops console) and `deno task dlq`. */
  ops: "ops",
  /** `deno task bench`. */
  bench: "bench",
  /** The test suites (tests/), which make ad-hoc topics and groups. */
  test: "test",
} as const;

/** The principal of the worker running consumer group `group`. */
export const workerPrincipal = (group: string) => `worker-${group}`;

/** The super users, as `super.users` lists them (`User:` prefixed, `;` separated). */
export const SUPER_USERS = [BROKER_USER, CONTROLLER_USER, PRINCIPALS.admin];

/** Every SCRAM user the cluster has: the brokers' and every principal of the table. */
export function scramUsers(): string[] {
  return [
    BROKER_USER,
    ...Object.values(PRINCIPALS),
    ...Object.values(SERVICES).map((s) => workerPrincipal(s.group)),
  ];
}

/** Kafka Connect's worker group and its storage topics (stack/conf/connect.properties). */
export const CONNECT_GROUP = "shop-connect";
export const CONNECT_TOPICS = ["_connect-configs", "_connect-offsets", "_connect-status"];
/** The relay's connector (relay/connector.json `name`, `topic.prefix`). */
const CONNECTOR = "shop-outbox";
const RELAY_TOPIC_PREFIX = "shop-relay";
/** Debezium's heartbeat topic (`heartbeat.interval.ms` is on): `__debezium-heartbeat.<prefix>`. */
export const HEARTBEAT_TOPIC = `__debezium-heartbeat.${RELAY_TOPIC_PREFIX}`;
/** The group prefix of `readTopic` (src/platform/read_topic.ts): the ops console's DLQ reads. */
export const READ_GROUP_PREFIX = "read-";

type Grant = [AclResource, string, AclPattern, AclOperation[], ("deny" | "allow")?];

const expand = (principal: string, grants: Grant[]): Acl[] =>
  grants.flatMap(([resource, name, pattern, ops, permission = "allow"]) =>
    ops.map((operation) => ({ principal, resource, name, pattern, operation, permission }))
  );

/** The ACL table: every binding of every principal (super users have none). */
export function kafkaAcls(): Acl[] {
  const business = AGGREGATE_TYPES.map((t) => topicFor(t));
  const dlqs = business.map(dlqTopicFor);
  const services = Object.values(SERVICES);
  const workerGroups = services.map((s) => s.group);

  const connect: Grant[] = [
    // Its worker group, and the group's storage topics (the worker creates them at first start).
    ["group", CONNECT_GROUP, "literal", ["read"]],
    ...CONNECT_TOPICS.map((t): Grant => [
      "topic",
      t,
      "literal",
      ["read", "write", "create", "describe-configs"],
    ]),
    // The router writes `shop.<aggregatetype>`: every business topic, including ones made later
    // (the relay tests' ad-hoc aggregate types), so by prefix. That prefix also covers the DLQs,
    // which only workers write: denied by name (a deny wins over any allow).
    ["topic", TOPIC_PREFIX, "prefixed", ["write"]],
    ...dlqs.map((t): Grant => ["topic", t, "literal", ["write"], "deny"]),
    // Debezium's own topics, made by Connect's topic creation on first use: its heartbeats and
    // `<topic.prefix>.message`, where the heartbeat query's logical decoding message goes.
    ["topic", HEARTBEAT_TOPIC, "literal", ["write", "create"]],
    ["topic", `${RELAY_TOPIC_PREFIX}.`, "prefixed", ["write", "create"]],
    // Exactly-once source (KIP-618): the leader's transactional id for the config topic and the
    // task producers' `<group.id>-<connector>-<task>`.
    ["transactional-id", `connect-cluster-${CONNECT_GROUP}`, "literal", ["write", "describe"]],
    ["transactional-id", `${CONNECT_GROUP}-${CONNECTOR}`, "prefixed", ["write", "describe"]],
  ];

  const workers = services.map((s) =>
    expand(workerPrincipal(s.group), [
      ["group", s.group, "literal", ["read"]],
      ...s.topics.map((t): Grant => ["topic", t, "literal", ["read"]]),
      ...s.topics.map((t): Grant => ["topic", dlqTopicFor(t), "literal", ["write"]]),
    ])
  );

  const ops: Grant[] = [
    // Lag: the end offsets of every business and DLQ topic, the workers' committed offsets.
    ...business.map((t): Grant => ["topic", t, "literal", ["describe"]]),
    ...workerGroups.map((g): Grant => ["group", g, "literal", ["describe"]]),
    // Dead letters: read (throwaway `read-` groups, deleted after the read). A replay writes no
    // topic: it goes back into the outbox, and only the relay writes business topics.
    ...dlqs.map((t): Grant => ["topic", t, "literal", ["read"]]),
    ["group", READ_GROUP_PREFIX, "prefixed", ["read", "delete"]],
  ];

  const bench: Grant[] = [
    // Reads the business topics with its own groups and writes a `bench.` topic of its own.
    ["topic", TOPIC_PREFIX, "prefixed", ["read", "create", "delete"]],
    ["topic", "bench.", "prefixed", ["all"]],
    ["group", "bench-", "prefixed", ["all"]],
    // Cleanup between runs moves the workers' offsets to the end and drops empty groups.
    ...workerGroups.map((g): Grant => ["group", g, "literal", ["read", "delete"]]),
  ];

  const test: Grant[] = [
    // Tests inject records into business topics and DLQs, read them, and make ad-hoc
    // `shop.t-*` topics the relay writes; `test.`/`tests.` topics are their own.
    ["topic", TOPIC_PREFIX, "prefixed", ["read", "write", "create", "delete"]],
    ["topic", "test", "prefixed", ["all"]],
    ["group", "test", "prefixed", ["all"]],
    ["group", READ_GROUP_PREFIX, "prefixed", ["read", "delete"]],
    // relay_role_test reads Connect's config topic to prove it stores no password.
    ["topic", "_connect-configs", "literal", ["read"]],
    // Assertions on the workers' committed offsets and group state.
    ...workerGroups.map((g): Grant => ["group", g, "literal", ["describe"]]),
  ];

  return [
    ...expand(PRINCIPALS.connect, connect),
    ...workers.flat(),
    ...expand(PRINCIPALS.ops, ops),
    ...expand(PRINCIPALS.bench, bench),
    ...expand(PRINCIPALS.test, test),
  ];
}

/**
 * Makes the cluster's ACLs exactly the table (creates what is missing, deletes what is not in
 * it), logged in as `access` (the admin principal). Idempotent; run by `deno task setup` and by
 * the local stack before Connect starts (Connect needs its group and topics to start at all).
 */
export async function applyKafkaAcls(
  access: KafkaAccess,
): Promise<{ created: number; deleted: number; total: number }> {
  const admin = kafkaClient(access, "acls").admin();
  await admin.connect();
  try {
    const wanted = kafkaAcls();
    const r = await syncAcls(admin, wanted);
    return { created: r.created.length, deleted: r.deleted.length, total: wanted.length };
  } finally {
    await admin.disconnect();
  }
}
