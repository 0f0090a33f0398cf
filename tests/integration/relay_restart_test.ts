/**
 * A relay task that FAILED is restarted by the API's relay watch (relay/restart.ts), and the
 * restart loses and doubles nothing. The failure is real: a DENY on the relay's write to one
 * ad-hoc topic makes the task's producer fail, and Connect fails the task (and leaves it FAILED);
 * once the grant is back, the watch sees FAILED, restarts it, and the event arrives exactly once
 * (the exactly-once relay aborted the failed transaction; the new task resumes from the last
 * committed source offset).
 *
 * Needs the local stack's Kafka logins (the admin principal alters ACLs); skipped against a stack
 * this suite did not start (compose), which the external end-to-end run covers otherwise.
 */
import assert from "node:assert/strict";
import {
  type Acl,
  createAcls,
  deleteAcls,
  kafkaAccess,
  kafkaClient,
} from "../../src/platform/kafka.ts";
import { localKafkaPassword } from "../../src/platform/local_stack.ts";
import { PRINCIPALS } from "../../src/kafka_acls.ts";
import { topicFor } from "../../src/events/topics.ts";
import { apiReadiness } from "../../src/readiness.ts";
import { relayRestarts } from "../../src/platform/metrics.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { connectorStatus } from "../../relay/register.ts";
import { failedTrace, restartFailed } from "../../relay/restart.ts";
import { cfg, collect, createTopics, db, real, unique } from "../helpers/stack.ts";
import { adHocPublisher } from "../helpers/ad_hoc_events.ts";

const hasLocalUsers = localKafkaPassword(PRINCIPALS.admin) !== undefined;
if (!hasLocalUsers) console.log("relay restart: skipped, no local Kafka logins (compose stack)");

const relayStatus = () => connectorStatus(cfg.kafkaConnectUrl, "shop-outbox");
const restartCount = async () => (await relayRestarts.get()).values[0]?.value ?? 0;

Deno.test(
  "relay restart: a task FAILED on a refused write runs again after the API's watch restarts it, the event delivered once",
  { ...real, ignore: !hasLocalUsers },
  async () => {
    const aggregateType = unique("t-");
    const topic = topicFor(aggregateType);
    await createTopics(topic);
    const deny: Acl = {
      principal: PRINCIPALS.connect,
      resource: "topic",
      name: topic,
      pattern: "literal",
      operation: "write",
      permission: "deny",
    };
    const admin = kafkaClient(kafkaAccess(cfg, PRINCIPALS.admin), "tests-relay-restart", {
      silent: true,
    }).admin();
    await admin.connect();
    const sql = db(2);
    let readiness: ReturnType<typeof apiReadiness> | undefined;
    try {
      await createAcls(admin, [deny]);
      const { publish } = adHocPublisher(aggregateType, { Refused: 1 }, () => "k");
      const [id] = await sql.begin((tx) => publish(tx, [{ type: "Refused", payload: {} }]));
      // Refused writes fail the task; Connect leaves it so. Its status says FAILED after the
      // task has closed, which took 2 s in some runs and 61 s in others (the failed transaction's
      // producer closing; nothing logged meanwhile).
      const failed = await waitFor(async () => failedTrace(await relayStatus()), {
        timeoutMs: 150_000,
        intervalMs: 250,
        what: "the relay task to fail on the refused write",
      });
      assert.match(failed, /authoriz/i, "it failed on the refused write");
      await deleteAcls(admin, [deny]);

      const before = await restartCount();
      readiness = apiReadiness(cfg, sql, { watchIntervalMs: 250 });
      await waitFor(async () => {
        const s = await relayStatus();
        return s?.connector.state === "RUNNING" && s.tasks.every((t) => t.state === "RUNNING");
      }, { timeoutMs: 60_000, intervalMs: 250, what: "the relay task to run again" });
      assert.equal(await restartCount(), before + 1, "restarted once, and counted");

      const records = await collect(topic, (rs) => rs.some((r) => r.headers.id === id));
      assert.deepEqual(records.map((r) => r.headers.id), [id], "delivered exactly once");
    } finally {
      await readiness?.close();
      await deleteAcls(admin, [deny]).catch(() => {});
      // Whatever happened above, the relay runs again for the tests after this one.
      if (failedTrace(await relayStatus())) await restartFailed(cfg.kafkaConnectUrl, "shop-outbox");
      await admin.disconnect();
      await sql.end();
    }
  },
);
