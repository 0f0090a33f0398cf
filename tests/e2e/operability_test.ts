/**
 * Operability end to end: one trace id across the API and every participant's logs; metrics
 * that move by exactly the expected amounts; readiness with its dependencies; DLQ replay.
 */
import assert from "node:assert/strict";
import { kafkaAccess, kafkaClient, keyedProducer } from "../../src/platform/kafka.ts";
import { PRINCIPALS } from "../../src/kafka_acls.ts";
import { topicFor } from "../../src/events/topics.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { uuidv7 } from "../../src/platform/uuidv7.ts";
import { DeadLetterError, findDeadLetter, replayDeadLetters } from "../../src/ops/dlq.ts";
import { cfg, real } from "../helpers/stack.ts";
import { system } from "../helpers/system.ts";
import { startApiProcess } from "../helpers/api_process.ts";
import { assertInvariants } from "../helpers/invariants.ts";
import { ownWorkers } from "../helpers/e2e_env.ts";

/** The value of one sample of a Prometheus text exposition (0 if absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? ([-+\d.eE]+|NaN)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return 0;
}

const scrape = async (url: string) => await (await fetch(`${url}/metrics`)).text();

Deno.test(
  "e2e operability: one trace id in the API log and every participant's log",
  { ...real, ...ownWorkers },
  async () => {
    const sys = await system();
    const api = await startApiProcess();
    try {
      const product = await sys.product(1000, 10);
      const user = await sys.user(10_000);
      const couponId = await sys.coupon({
        name: "trace",
        discount: { type: "fixed", amount: 100 },
        totalQuantity: 5,
      });
      const uc = await sys.grantCoupon(couponId, user);
      const traceId = crypto.randomUUID().replaceAll("-", "");
      const res = await fetch(`${api.url}/orders`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${user.token}`,
          "content-type": "application/json",
          traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
        },
        body: JSON.stringify({ items: [{ productId: product, quantity: 1 }], userCouponId: uc }),
      });
      assert.equal(res.status, 202);
      assert.match(res.headers.get("traceparent")!, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      const { orderId } = await res.json();
      assert.equal((await sys.settledOrder(user.token, orderId)).status, "CONFIRMED");

      const logs: Record<string, string> = { api: api.logPath };
      for (const w of ["inventory", "coupon-redeemer", "payment", "order-saga"]) {
        logs[w] = sys
          .workers.logPath(w);
      }
      for (const [who, path] of Object.entries(logs)) {
        const line = await waitFor(
          async () => (await Deno.readTextFile(path)).split("\n").find((l) => l.includes(traceId)),
          {
            timeoutMs: 10_000,
            what: `trace ${traceId} in the ${who} log`,
          },
        );
        const entry = JSON.parse(line);
        assert.equal(entry.traceId, traceId, `${who} logs the trace id as a field`);
        if (who !== "api") {
          assert.ok(entry.eventId && entry.group, `${who} logs event id and group`);
          assert.ok(line.includes(orderId), `${who} logs the order id`);
        } else {
          assert.ok(entry.requestId, "the API logs the request id");
        }
      }
    } finally {
      await api.stop();
      await sys.close();
    }
  },
);

Deno.test("e2e operability: metrics move by exactly the expected amounts", {
  ...real,
  ...ownWorkers,
}, async () => {
  const sys = await system();
  const api = await startApiProcess();
  const producer = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-metrics").producer(
    keyedProducer,
  );
  await producer.connect();
  try {
    const issuer = `http://127.0.0.1:${sys.workers.port("coupon-issuer")}`;
    const couponId = await sys.coupon({
      name: "metrics",
      discount: { type: "fixed", amount: 1 },
      totalQuantity: 3,
    });
    const topic = topicFor("coupon-issue");
    const g = { group: "coupon-issuer", topic };
    const before = await scrape(issuer);
    const apiBefore = await scrape(api.opsUrl);

    const users = await Promise.all(Array.from({ length: 5 }, () => sys.user()));
    for (const u of users) {
      const r = await fetch(`${api.url}/coupons/${couponId}/issue-requests`, {
        method: "POST",
        headers: { authorization: `Bearer ${u.token}` },
      });
      assert.equal(r.status, 202);
    }
    await waitFor(async () => {
      const rows = await sys
        .sql`select 1 from coupon_requests where coupon_id = ${couponId} and status <> 'PENDING'`;
      return rows.length === 5;
    }, { timeoutMs: 30_000, what: "5 decisions" });
    // One duplicate (a re-produced request) and one poison record.
    const [first] = await sys
      .sql`select id, user_id from coupon_requests where coupon_id = ${couponId} limit 1`;
    const [original] = await sys
      .sql`select id from outbox where type = 'CouponIssueRequested' and payload->>'requestId' = ${first.id}`;
    await producer.send({
      topic,
      messages: [
        {
          key: couponId,
          value: JSON.stringify({ requestId: first.id, couponId, userId: first.user_id }),
          headers: { id: original.id, eventType: "CouponIssueRequested", eventVersion: "1" },
        },
        {
          key: couponId,
          value: "poison",
          headers: { id: uuidv7(), eventType: "CouponIssueRequested", eventVersion: "1" },
        },
      ],
    });
    await waitFor(
      async () =>
        sample(await scrape(issuer), "consumer_dead_lettered_total", g) ===
          sample(before, "consumer_dead_lettered_total", g) + 1,
      {
        timeoutMs: 30_000,
        what: "the poison to be dead-lettered",
      },
    );
    const after = await scrape(issuer);
    const delta = (name: string, labels: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels);
    assert.equal(delta("consumer_records_total", { ...g, outcome: "applied" }), 5);
    assert.equal(delta("consumer_records_total", { ...g, outcome: "duplicate" }), 1);
    // The issuer's own replies (3 CouponIssued, 2 CouponIssueRejected) pass on its topic: skipped.
    assert.equal(delta("consumer_records_total", { ...g, outcome: "skipped" }), 5);
    assert.equal(delta("consumer_dead_lettered_total", g), 1);
    assert.equal(delta("relay_commit_to_consume_seconds_count", { group: "coupon-issuer" }), 5);
    assert.equal(
      delta("consumer_handler_duration_seconds_count", {
        group: "coupon-issuer",
        type: "CouponIssueRequested",
      }),
      5, // applied events only: a duplicate runs no handler
    );
    assert.ok(
      after.includes('consumer_lag{group="coupon-issuer",topic="shop.coupon-issue"'),
      "lag per partition",
    );

    const apiAfter = await scrape(api.opsUrl);
    const route = { method: "POST", route: "/coupons/:id/issue-requests", status: "202" };
    assert.equal(
      sample(apiAfter, "http_requests_total", route) -
        sample(apiBefore, "http_requests_total", route),
      5,
    );
    assert.ok(/^replication_slot_lag_bytes\{slot="shop_outbox"\} \d+/m.test(apiAfter), "slot lag");
    assert.ok(apiAfter.includes("# TYPE orders gauge"), "orders by state");
    assert.ok(apiAfter.includes("orders_oldest_pending_age_seconds"), "oldest pending order");
    assert.ok(apiAfter.includes("# TYPE coupon_requests_pending gauge"), "FCFS pending by coupon");
    await assertInvariants(sys.sql, sys.scope);
  } finally {
    await producer.disconnect();
    await api.stop();
    await sys.close();
  }
});

Deno.test(
  "e2e operability: readiness names its dependencies, on the API and on a worker",
  { ...real, ...ownWorkers },
  async () => {
    const sys = await system();
    const api = await startApiProcess();
    try {
      // Readiness is the database; Kafka and the relay are reported beside it once watched.
      const ready = await waitFor(async () => {
        const body = await (await fetch(`${api.url}/health/ready`)).json();
        return body.reported?.relay?.status === "ok" && body.reported?.kafka?.status === "ok"
          ? body
          : undefined;
      }, { timeoutMs: 20_000, what: "the API to report Kafka and the relay" });
      assert.equal(ready.status, "ok");
      assert.deepEqual(Object.keys(ready.checks), ["database"]);
      assert.match(ready.reported.relay.detail, /connector RUNNING, tasks RUNNING/);
      assert.match(ready.reported.kafka.detail, /\d+ broker\(s\)/);
      const w = await fetch(`http://127.0.0.1:${sys.workers.port("payment")}/health/ready`);
      assert.equal(w.status, 200);
      assert.deepEqual((await w.json()).checks, {
        database: { status: "ok" },
        consumer: { status: "ok", detail: "running" },
      });
      assert.equal(
        (await fetch(`http://127.0.0.1:${sys.workers.port("payment")}/health/live`)).status,
        200,
      );
    } finally {
      await api.stop();
      await sys.close();
    }
  },
);

Deno.test(
  "e2e operability: a dead letter replayed after the fix is applied once; again, refused",
  real,
  async () => {
    const sys = await system();
    const producer = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-replay").producer(
      keyedProducer,
    );
    await producer.connect();
    try {
      const couponId = await sys.coupon({
        name: "replay",
        discount: { type: "fixed", amount: 1 },
        totalQuantity: 5,
      });
      const user = await sys.user();
      // A valid event whose request row does not exist (yet): the handler fails, the record is
      // dead-lettered, the partition moves on.
      const requestId = uuidv7();
      const eventId = uuidv7();
      const topic = topicFor("coupon-issue");
      await producer.send({
        topic,
        messages: [{
          key: couponId,
          value: JSON.stringify({ requestId, couponId, userId: user.id }),
          headers: { id: eventId, eventType: "CouponIssueRequested", eventVersion: "1" },
        }],
      });
      const kafka = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-dlq");
      const letter = await waitFor(
        () => findDeadLetter(kafka, topic, (d) => d.id === eventId),
        {
          timeoutMs: 30_000,
          what: "the record in the DLQ",
        },
      );
      // A missing row is retried first (it may not be visible yet), then dead-lettered.
      assert.equal(letter.errorClass, "RetriesExhausted");
      assert.match(letter.errorMessage, /not found/);
      assert.equal(letter.origin.topic, topic);

      // The fix: the missing row appears. Replay by id: issued once.
      await sys
        .sql`insert into coupon_requests (id, coupon_id, user_id) values (${requestId}, ${couponId}, ${user.id})`;
      const replayed = await replayDeadLetters(sys.sql, [letter], "tests");
      assert.deepEqual(replayed.map((d) => d.id), [eventId]);
      await waitFor(async () => {
        const [r] = await sys.sql`select status from coupon_requests where id = ${requestId}`;
        return r.status === "ISSUED";
      }, { timeoutMs: 30_000, what: "the replayed request to be issued" });

      // A dead letter is replayed once: a second replay is refused and writes nothing.
      await assert.rejects(
        replayDeadLetters(sys.sql, [letter], "tests"),
        (e) => e instanceof DeadLetterError && e.kind === "settled",
      );
      const marker = await sys.call("POST", `/coupons/${couponId}/issue-requests`, {
        token: (await sys.user()).token,
      });
      assert.equal(marker.status, 202);
      await waitFor(async () => {
        const rows = await sys
          .sql`select 1 from coupon_requests where coupon_id = ${couponId} and status = 'ISSUED'`;
        return rows.length === 2; // the marker request, behind the replay, is decided
      }, { timeoutMs: 30_000, what: "the marker request" });
      const [c] = await sys.sql`select issued_quantity from coupons where id = ${couponId}`;
      assert.equal(c.issued_quantity, 2, "the replayed event counted once");
      const claims = await sys
        .sql`select 1 from inbox where consumer_group = 'coupon-issuer' and event_id = ${eventId}`;
      assert.equal(claims.length, 1);
      await assertInvariants(sys.sql, sys.scope);
    } finally {
      await producer.disconnect();
      await sys.close();
    }
  },
);
