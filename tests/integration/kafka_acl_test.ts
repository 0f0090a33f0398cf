/**
 * Kafka authentication and ACLs on the real stack (docs/decisions.md "Kafka: SASL/SCRAM, a
 * principal per process"): no listener serves a client without a login, the cluster's ACLs are
 * exactly the repository's table (src/kafka_acls.ts), and a principal is refused what the table
 * does not grant it. That each process can do its own work with exactly its grants is shown by
 * the integration and end-to-end suites, which run the real workers and API as their principals.
 *
 * The principals' passwords come from the local stack's file (stack:up makes it); against a stack
 * this suite did not start (compose) there is none, and these tests are skipped.
 */
import assert from "node:assert/strict";
import {
  aclKey,
  kafkaAccess,
  kafkaClient,
  keyedProducer,
  listAcls,
} from "../../src/platform/kafka.ts";
import { CLUSTER_NODES, LOCAL_PORTS, localKafkaPassword } from "../../src/platform/local_stack.ts";
import { CONTROLLER_USER, kafkaAcls, PRINCIPALS, workerPrincipal } from "../../src/kafka_acls.ts";
import { dlqTopicFor, topicFor } from "../../src/events/topics.ts";
import { STACK_DIR } from "../../stack/components.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { cfg, real, unique } from "../helpers/stack.ts";

const hasLocalUsers = localKafkaPassword(PRINCIPALS.admin) !== undefined;
const opts = { ...real, ignore: !hasLocalUsers };

/**
 * A client logged in as `principal` with the local stack's password (never the env's login). One
 * retry: kafkajs' idempotent producer refuses to run without any.
 */
const as = (principal: string, brokers = cfg.kafkaBrokers) =>
  kafkaClient(
    kafkaAccess(
      { kafkaBrokers: brokers, kafkaUsername: undefined, kafkaPassword: undefined },
      principal,
    ),
    `tests-acl-${principal}`,
    { silent: true, retries: 1 },
  );

/** The client listener of every node of the running profile. */
const clientPorts = cfg.stackProfile === "cluster"
  ? CLUSTER_NODES.map((n) => n.port)
  : [LOCAL_PORTS.kafka];
const controllerPorts = cfg.stackProfile === "cluster"
  ? CLUSTER_NODES.map((n) => n.controllerPort)
  : [LOCAL_PORTS.kafkaController];

/** describeCluster on one node: the cheapest request a logged-in client may always make. */
async function describe(kafka: ReturnType<typeof kafkaClient>): Promise<number> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    return (await admin.describeCluster()).brokers.length;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

Deno.test(
  "kafka auth: the client listener refuses a client without a login or with a wrong password",
  opts,
  async () => {
    for (const port of clientPorts) {
      const brokers = [`127.0.0.1:${port}`];
      // The control: the same node answers a logged-in client.
      assert.ok(await describe(as(PRINCIPALS.test, brokers)) > 0, `${port}: test's login works`);
      await assert.rejects(
        describe(kafkaClient({ brokers, login: "anonymous" }, "tests-anon", {
          silent: true,
          retries: 0,
        })),
        // A SASL listener answers ApiVersions only, then closes the connection.
        (err: Error) => err.name === "KafkaJSConnectionClosedError",
        `${port}: anonymous`,
      );
      await assert.rejects(
        describe(
          kafkaClient(
            { brokers, login: { username: PRINCIPALS.test, password: "wrong" } },
            "tests-bad",
            {
              silent: true,
              retries: 0,
            },
          ),
        ),
        (err: Error) => err.name === "KafkaJSSASLAuthenticationError",
        `${port}: wrong password`,
      );
    }
  },
);

/**
 * The controller listener through the Java admin client (`--bootstrap-controller`, KIP-919):
 * kafkajs cannot speak to a controller at all, so it would prove nothing there.
 */
async function describeQuorum(
  port: number,
  properties: string,
): Promise<{ ok: boolean; out: string }> {
  const file = await Deno.makeTempFile({ prefix: "tests-acl-", suffix: ".properties" });
  try {
    await Deno.writeTextFile(
      file,
      // Give up after seconds: refused requests are otherwise retried for a minute.
      `${properties}\nrequest.timeout.ms=3000\ndefault.api.timeout.ms=6000\n`,
    );
    const out = await new Deno.Command("java", {
      args: [
        "-cp",
        `${STACK_DIR}/lib/*`,
        "org.apache.kafka.tools.MetadataQuorumCommand",
        "--bootstrap-controller",
        `127.0.0.1:${port}`,
        "--command-config",
        file,
        "describe",
        "--status",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    return { ok: out.success, out: text.decode(out.stdout) + text.decode(out.stderr) };
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("kafka auth: the controller listener refuses a client without the controller login", {
  ...opts,
  ignore: !hasLocalUsers || localKafkaPassword(CONTROLLER_USER) === undefined,
}, async () => {
  const password = localKafkaPassword(CONTROLLER_USER)!;
  for (const port of controllerPorts) {
    const controller = await describeQuorum(
      port,
      [
        "security.protocol=SASL_PLAINTEXT",
        "sasl.mechanism=PLAIN",
        `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ` +
        `username="${CONTROLLER_USER}" password="${password}";`,
      ].join("\n"),
    );
    assert.ok(
      controller.ok && /LeaderId:\s+\d+/.test(controller.out),
      `${port}: ${controller.out}`,
    );
    const anonymous = await describeQuorum(port, "security.protocol=PLAINTEXT");
    assert.ok(!anonymous.ok, `${port}: anonymous got an answer: ${anonymous.out}`);
    assert.match(anonymous.out, /TimeoutException|disconnected|closed/i);
    assert.doesNotMatch(anonymous.out, /LeaderId:/);
  }
});

Deno.test("kafka acls: the cluster's ACLs are exactly the repository's table", opts, async () => {
  const admin = as(PRINCIPALS.admin).admin();
  await admin.connect();
  try {
    const cluster = (await listAcls(admin)).map(aclKey).sort();
    const table = kafkaAcls().map(aclKey).sort();
    assert.deepEqual(cluster, table);
  } finally {
    await admin.disconnect();
  }
  // Reading the ACLs needs Describe on the cluster: the test principal is no super user.
  const test = as(PRINCIPALS.test).admin();
  await test.connect();
  try {
    await assert.rejects(
      listAcls(test),
      (err: Error & { type?: string }) => err.type === "CLUSTER_AUTHORIZATION_FAILED",
    );
  } finally {
    await test.disconnect();
  }
});

/** Produces one record as `principal`; rejects with kafkajs' error when refused. */
async function produce(principal: string, topic: string): Promise<void> {
  const producer = as(principal).producer(keyedProducer);
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ key: "acl-test", value: "must not land" }] });
  } finally {
    await producer.disconnect();
  }
}

/**
 * A produce refused by the topic's ACLs: kafkajs reports TOPIC_AUTHORIZATION_FAILED as a protocol
 * error from the produce, or wrapped (type lost, message kept) when the metadata refused it first.
 */
const topicDenied = (err: Error & { type?: string }) =>
  err.type === "TOPIC_AUTHORIZATION_FAILED" ||
  /^Not authorized to access topics: \[Topic authorization failed\]/.test(err.message);

Deno.test(
  "kafka acls: a worker cannot write a business topic nor another's DLQ; the relay cannot write a DLQ",
  opts,
  async () => {
    const payment = workerPrincipal("payment");
    await assert.rejects(produce(payment, topicFor("order")), topicDenied, "business topic");
    await assert.rejects(
      produce(payment, topicFor("payment")),
      topicDenied,
      "its own events' topic",
    );
    await assert.rejects(
      produce(payment, dlqTopicFor(topicFor("payment"))),
      topicDenied,
      "a DLQ of a topic it does not read",
    );
    // The relay writes every business topic, but never a dead letter (a deny beside its prefix).
    await assert.rejects(produce(PRINCIPALS.connect, dlqTopicFor(topicFor("order"))), topicDenied);
    // The ops console writes no topic (a replay goes through the outbox). With no write ACL at all
    // its idempotent producer is refused before any topic: at InitProducerId (KIP-679).
    await assert.rejects(
      produce(PRINCIPALS.ops, topicFor("order")),
      (err: Error & { type?: string }) =>
        topicDenied(err) || err.type === "CLUSTER_AUTHORIZATION_FAILED" ||
        /Cluster authorization failed/.test(err.message),
    );
  },
);

/**
 * Joins `groupId` on `topic` as `principal`: "joined", or the message of the crash that stopped
 * it. A group the principal may not describe fails FindCoordinator with GROUP_AUTHORIZATION_FAILED,
 * which kafkajs reports only as "Failed to find group coordinator" (it tries every broker, then
 * gives up): the test principal's join of a group of its own is the control that the coordinator
 * is there.
 */
async function join(principal: string, groupId: string, topic: string): Promise<string> {
  const consumer = as(principal).consumer({
    groupId,
    maxWaitTimeInMs: 100,
    retry: { retries: 0, restartOnFailure: () => Promise.resolve(false) },
  });
  let outcome: string | undefined;
  consumer.on(consumer.events.CRASH, (e) => {
    outcome ??= (e.payload.error as Error).message;
  });
  consumer.on(consumer.events.GROUP_JOIN, () => {
    outcome ??= "joined";
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachMessage: () => Promise.reject(new Error("no record may be handled here")),
    });
    return await waitFor(() => outcome, {
      timeoutMs: 20_000,
      what: `${principal}'s consumer of ${groupId} to join or be refused`,
    });
  } finally {
    await consumer.disconnect();
  }
}

Deno.test(
  "kafka acls: a worker cannot join another worker's group nor a group of its own making",
  opts,
  async () => {
    const payment = workerPrincipal("payment");
    const refused = "Failed to find group coordinator";
    const adHoc = unique("tests-acl-");
    // Controls: the coordinator of an ad-hoc group answers the test principal, and the worker's
    // own group's coordinator answers the worker (a read of its offsets, which joins nothing).
    assert.equal(await join(PRINCIPALS.test, adHoc, topicFor("order")), "joined");
    const admin = as(payment).admin();
    await admin.connect();
    try {
      const [offsets] = await admin.fetchOffsets({
        groupId: "payment",
        topics: [topicFor("order")],
      });
      assert.equal(offsets.topic, topicFor("order"));
    } finally {
      await admin.disconnect();
    }
    // Another worker's group on a topic both read, and any group but its own: refused.
    assert.equal(await join(payment, "inventory", topicFor("order")), refused);
    assert.equal(await join(payment, adHoc, topicFor("order")), refused);
  },
);
