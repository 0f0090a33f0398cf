/**
 * Delivery faults end to end: a record delivered twice has one effect; poison records go to the
 * DLQ with their origin and error while the records behind them are handled; a worker killed
 * mid-stream and restarted loses and doubles nothing.
 */
import assert from "node:assert/strict";
import { kafkaAccess, kafkaClient, keyedProducer } from "../../src/platform/kafka.ts";
import { PRINCIPALS } from "../../src/kafka_acls.ts";
import { dlqTopicFor, topicFor } from "../../src/events/topics.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { uuidv7 } from "../../src/platform/uuidv7.ts";
import { newUser } from "../helpers/api.ts";
import { cfg, collect, real } from "../helpers/stack.ts";
import { system } from "../helpers/system.ts";
import { assertInvariants } from "../helpers/invariants.ts";
import { ownWorkers } from "../helpers/e2e_env.ts";

/** The committed offset of `group` on `topic`/`partition` (-1: none). */
async function committed(group: string, topic: string, partition: number): Promise<bigint> {
  const admin = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-offsets").admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return BigInt(t.partitions.find((p) => p.partition === partition)!.offset);
  } finally {
    await admin.disconnect();
  }
}

Deno.test("e2e delivery: the same record delivered twice has one effect", real, async () => {
  const sys = await system();
  const producer = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-redeliver").producer(
    keyedProducer,
  );
  await producer.connect();
  try {
    const product = await sys.product(1000, 10);
    const user = await sys.user(5000);
    const placed = await sys.call("POST", "/orders", {
      token: user.token,
      body: { items: [{ productId: product, quantity: 3 }] },
    });
    const orderId = placed.body.orderId;
    assert.equal((await sys.settledOrder(user.token, orderId)).status, "CONFIRMED");

    const [original] = (await collect(topicFor("order"), (rs) => rs.some((r) => r.key === orderId)))
      .filter((r) => r.key === orderId && r.headers.eventType === "OrderCreated");
    const [meta] = await producer.send({
      topic: original.topic,
      messages: [{ key: original.key, value: original.value, headers: original.headers }],
    });
    const offset = BigInt(meta.baseOffset!);
    assert.equal(meta.partition, original.partition, "same key, same partition");
    // Each participant consumed the re-delivered record (its committed offset passed it) ...
    for (const group of ["inventory", "payment", "coupon-redeemer"]) {
      await waitFor(
        async () => (await committed(group, original.topic, original.partition)) > offset,
        {
          timeoutMs: 30_000,
          what: `${group} to consume the duplicate`,
        },
      );
    }
    // ... and applied it once: stock and wallet moved once, one claim per group that applies it
    // (the best-sellers projection reads the order topic too; coupon-redeemer skips an order
    // without a coupon unclaimed).
    assert.equal((await sys.sql`select stock from products where id = ${product}`)[0].stock, 7);
    assert.equal((await sys.call("GET", "/wallet", { token: user.token })).body.balance, 2000);
    const claims = await sys
      .sql`select consumer_group from inbox where event_id = ${original.headers.id}`;
    assert.deepEqual(claims.map((c) => c.consumer_group).sort(), [
      "best-sellers",
      "inventory",
      "payment",
    ]);
    await assertInvariants(sys.sql, sys.scope);
  } finally {
    await producer.disconnect();
    await sys.close();
  }
});

Deno.test(
  "e2e delivery: poison records go to the DLQ with headers; records behind them are handled",
  real,
  async () => {
    const sys = await system();
    const producer = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-poison").producer(
      keyedProducer,
    );
    await producer.connect();
    try {
      const couponId = await sys.coupon({
        name: "poison",
        discount: { type: "fixed", amount: 1 },
        totalQuantity: 10,
      });
      const topic = topicFor("coupon-issue");
      // Keyed by the coupon: the poison sits on the partition its real requests will use.
      const poison = [
        { id: uuidv7(), value: "{not json", version: "1", why: /not JSON/ },
        {
          id: uuidv7(),
          value: JSON.stringify({ requestId: "x" }),
          version: "1",
          why: /does not match CouponIssueRequested/,
        },
        {
          id: uuidv7(),
          value: JSON.stringify({ requestId: uuidv7(), couponId, userId: "u" }),
          version: "99",
          why: /unsupported version 99/,
        },
      ];
      const sent = await producer.send({
        topic,
        messages: poison.map((p) => ({
          key: couponId,
          value: p.value,
          headers: { id: p.id, eventType: "CouponIssueRequested", eventVersion: p.version },
        })),
      });
      const partition = sent[0].partition;

      const users = await Promise.all(Array.from({ length: 5 }, () => sys.user()));
      const requests = await Promise.all(
        users.map((u) =>
          sys.call("POST", `/coupons/${couponId}/issue-requests`, { token: u.token })
        ),
      );
      await waitFor(async () => {
        const rows = await sys
          .sql`select 1 from coupon_requests where coupon_id = ${couponId} and status = 'ISSUED'`;
        return rows.length === 5;
      }, { timeoutMs: 30_000, what: "the requests behind the poison to be issued" });
      assert.equal(requests.length, 5);

      const dead = await collect(
        dlqTopicFor(topic),
        (rs) => poison.every((p) => rs.some((r) => r.headers.id === p.id)),
      );
      for (const p of poison) {
        const d = dead.find((r) => r.headers.id === p.id)!;
        assert.equal(d.key, couponId);
        assert.equal(d.value, p.value, "the original value, untouched");
        assert.equal(d.headers["dlq.origin.topic"], topic);
        assert.equal(d.headers["dlq.origin.partition"], String(partition));
        assert.match(d.headers["dlq.origin.offset"], /^\d+$/);
        assert.equal(d.headers["dlq.group"], "coupon-issuer");
        assert.equal(d.headers["dlq.error.class"], "PoisonRecord");
        assert.match(d.headers["dlq.error.message"], p.why);
        assert.equal(d.headers.eventType, "CouponIssueRequested", "original headers kept");
      }
      await assertInvariants(sys.sql, sys.scope);
    } finally {
      await producer.disconnect();
      await sys.close();
    }
  },
);

Deno.test(
  "e2e delivery: workers killed mid-stream and restarted lose and double nothing",
  { ...real, ...ownWorkers },
  async () => {
    const sys = await system();
    try {
      const couponId = await sys.coupon({
        name: "restart",
        discount: { type: "fixed", amount: 1 },
        totalQuantity: 100,
      });
      const product = await sys.product(10, 1000);
      const users = Array.from({ length: 300 }, () => newUser("restart"));
      sys.scope.userIds.push(...users.map((u) => u.id));
      const buyers = await Promise.all(Array.from({ length: 40 }, () => sys.user(100)));

      const requests = Promise.all(
        users.map((u) =>
          sys.call("POST", `/coupons/${couponId}/issue-requests`, { token: u.token })
        ),
      );
      const orders = Promise.all(buyers.map((b) =>
        sys.call("POST", "/orders", {
          token: b.token,
          body: { items: [{ productId: product, quantity: 2 }] },
        })
      ));
      // Kill the issuer and the inventory worker once they are under way, then start them again.
      await waitFor(async () => {
        const [r] = await sys
          .sql`select count(*)::int as n from coupon_requests where coupon_id = ${couponId} and status <> 'PENDING'`;
        return r.n > 0;
      }, { timeoutMs: 30_000, intervalMs: 10, what: "the issuer to start deciding" });
      const killed = await Promise.all([
        sys.workers.stop("coupon-issuer", { kill: true }),
        sys.workers.stop("inventory", { kill: true }),
      ]);
      assert.ok(killed.every((s) => s?.signal === "SIGKILL"));
      await Promise.all([requests, orders]);
      await sys.workers.start("coupon-issuer", "inventory");

      await assertInvariants(sys.sql, sys.scope, 90_000);
      const [issued] = await sys.sql`
      select count(*)::int as n from coupon_requests where coupon_id = ${couponId} and status = 'ISSUED'`;
      assert.equal(issued.n, 100);
      const settled = await sys.sql`
      select status, count(*)::int as n from orders where user_id = any(${
        buyers.map((b) => b.id)
      }::text[]) group by 1`;
      assert.deepEqual(settled.map((r) => ({ ...r })), [{ status: "CONFIRMED", n: 40 }]);
      assert.equal(
        (await sys.sql`select stock from products where id = ${product}`)[0].stock,
        1000 - 80,
      );
    } finally {
      await sys.close();
    }
  },
);

Deno.test(
  "e2e delivery: a failing record inside a batch is dead-lettered alone; the rest of the batch applies",
  { ...real, ...ownWorkers },
  async () => {
    const sys = await system({ workers: false });
    const producer = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-batch").producer(
      keyedProducer,
    );
    await producer.connect();
    try {
      const couponId = await sys.coupon({
        name: "batch",
        discount: { type: "fixed", amount: 1 },
        totalQuantity: 30,
      });
      // With the issuer stopped, a backlog builds: 40 valid requests around one that fails in its
      // handler (its request row does not exist), so the issuer meets them in one batch.
      const users = await Promise.all(Array.from({ length: 40 }, () => sys.user()));
      const ids: string[] = [];
      for (const [i, u] of users.entries()) {
        if (i === 20) {
          const bad = uuidv7();
          await producer.send({
            topic: topicFor("coupon-issue"),
            messages: [{
              key: couponId,
              value: JSON.stringify({ requestId: uuidv7(), couponId, userId: "nobody" }),
              headers: { id: bad, eventType: "CouponIssueRequested", eventVersion: "1" },
            }],
          });
          ids.push(bad);
        }
        const r = await sys.call("POST", `/coupons/${couponId}/issue-requests`, { token: u.token });
        assert.equal(r.status, 202);
      }
      // Wait until the relay has put all 40 behind the bad record, then let the issuer loose.
      await collect(
        topicFor("coupon-issue"),
        (rs) => rs.filter((r) => r.key === couponId).length >= 41,
      );
      await sys.workers.start("coupon-issuer");
      await waitFor(async () => {
        const rows = await sys
          .sql`select 1 from coupon_requests where coupon_id = ${couponId} and status = 'PENDING'`;
        return rows.length === 0;
      }, { timeoutMs: 30_000, what: "all 40 requests decided" });
      const [counts] = await sys.sql`
      select count(*) filter (where status = 'ISSUED')::int as issued,
             count(*) filter (where status = 'REJECTED')::int as rejected
      from coupon_requests where coupon_id = ${couponId}`;
      assert.deepEqual({ ...counts }, { issued: 30, rejected: 10 });
      const dead = await collect(
        dlqTopicFor(topicFor("coupon-issue")),
        (rs) => rs.some((r) => r.headers.id === ids[0]),
      );
      const letter = dead.find((r) => r.headers.id === ids[0])!;
      // A missing request row is retried first (it may not be visible yet: NotVisibleYet), then
      // dead-lettered as RetriesExhausted; the records around it applied meanwhile.
      assert.equal(letter.headers["dlq.error.class"], "RetriesExhausted");
      assert.match(letter.headers["dlq.error.message"], /not found/);
      await assertInvariants(sys.sql, sys.scope);
    } finally {
      await producer.disconnect();
      await sys.close();
    }
  },
);
