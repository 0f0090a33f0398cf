/**
 * Dead letters against real Kafka, Postgres and the relay:
 * - a record is dead-lettered once even when it is delivered again after a crash between the DLQ
 *   produce and the offset commit, and where it landed is stamped in `dead_letter_log`;
 * - a DLQ holding more records than a page is read page by page, newest first, each record once;
 * - a replay goes through the outbox (same id, type, payload, key and trace; the relay routes it
 *   back to the origin topic), once: a second replay or a discard of it is refused;
 * - a record of any shape (an id header that is no UUID) is found by its DLQ or origin
 *   coordinates and discarded, once; it cannot be replayed (not an event); through the ops API,
 *   as the console's role, the same answers are 4xx problems, never a 500.
 * Each test uses topics of its own (`shop.tests-dl-<random>` is routed by the relay).
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { deadLetterOnce } from "../../src/platform/dead_letter.ts";
import {
  kafkaAccess,
  kafkaClient,
  type KafkaMessage,
  keyedProducer,
} from "../../src/platform/kafka.ts";
import { PRINCIPALS } from "../../src/kafka_acls.ts";
import {
  DeadLetterError,
  discardDeadLetters,
  findDeadLetters,
  pageDeadLetters,
  replayDeadLetters,
} from "../../src/ops/dlq.ts";
import { dlqTopicFor, topicFor } from "../../src/events/topics.ts";
import { uuidv7 } from "../../src/platform/uuidv7.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { cfg, collect, createTopics, db, real, unique } from "../helpers/stack.ts";
import { adminToken, api } from "../helpers/api.ts";

function record(
  offset: string,
  headers: Record<string, string>,
  value = "{not json",
): KafkaMessage {
  return {
    key: Buffer.from("k"),
    value: Buffer.from(value),
    offset,
    timestamp: String(Date.now()),
    attributes: 0,
    headers,
  } as KafkaMessage;
}

const eventHeaders = (id = uuidv7()) => ({
  id,
  eventType: "CouponIssueRequested",
  eventVersion: "1",
});

/** Rejects with a DeadLetterError of `kind`. */
async function refused(p: Promise<unknown>, kind: DeadLetterError["kind"]): Promise<void> {
  await assert.rejects(p, (e) => e instanceof DeadLetterError && e.kind === kind);
}

Deno.test("dead letter: a redelivered poison record is dead-lettered once", real, async () => {
  const topic = unique("tests.dl-once-");
  await createTopics(topic, dlqTopicFor(topic));
  const sql = db(2);
  const producer = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-dl").producer(
    keyedProducer,
  );
  await producer.connect();
  try {
    const message = record("7", eventHeaders());
    const input = {
      group: "tests-dl",
      topic,
      partition: 1,
      message,
      errorClass: "PoisonRecord",
      errorMessage: "the value is not JSON",
    };
    assert.equal(await deadLetterOnce(sql, producer, input), true);
    // The worker crashed before committing the offset: the record comes again.
    assert.equal(await deadLetterOnce(sql, producer, input), false);
    // Another record right behind it, so the reader knows it has seen everything before.
    assert.equal(
      await deadLetterOnce(sql, producer, { ...input, message: record("8", eventHeaders()) }),
      true,
    );
    const letters = await collect(dlqTopicFor(topic), (r) => r.length >= 2);
    assert.deepEqual(letters.map((l) => l.headers["dlq.origin.offset"]).sort(), ["7", "8"]);
    assert.ok(letters.every((l) => l.partition === 1), "a dead letter keeps its partition");
    // Where each landed is stamped, so it can be read by its origin or event id at once.
    const log = await sql<{ offset: number; dlq_offset: number; event_id: string }[]>`
      select "offset", dlq_offset, event_id from dead_letter_log
      where topic = ${topic} order by "offset"`;
    assert.deepEqual(
      log.map((l) => [l.offset, l.dlq_offset, l.event_id]),
      letters.sort((a, b) => Number(a.offset) - Number(b.offset))
        .map((l) => [Number(l.headers["dlq.origin.offset"]), Number(l.offset), l.headers.id]),
    );
  } finally {
    await producer.disconnect();
    await sql.end();
  }
});

Deno.test("dead letter: a DLQ larger than a page is read page by page", real, async () => {
  const topic = unique("tests.dl-pages-");
  await createTopics(topic, dlqTopicFor(topic));
  const sql = db(2);
  const kafka = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-dl");
  const producer = kafka.producer(keyedProducer);
  await producer.connect();
  try {
    // 7 dead letters on partition 0 and 5 on partition 2, dead-lettered one after the other.
    const sent: string[] = [];
    for (let i = 0; i < 12; i++) {
      const partition = i % 2 === 0 || i > 8 ? 0 : 2;
      await deadLetterOnce(sql, producer, {
        group: "tests-dl",
        topic,
        partition,
        message: record(String(i), eventHeaders()),
        errorClass: "PoisonRecord",
        errorMessage: `record ${i}`,
      });
      sent.push(`record ${i}`);
    }
    const pages: string[][] = [];
    let before: string | undefined;
    do {
      const page = await pageDeadLetters(kafka, topic, { limit: 5, before });
      assert.ok(page.letters.length <= 5);
      pages.push(page.letters.map((d) => d.errorMessage));
      before = page.nextCursor ?? undefined;
    } while (before);
    assert.deepEqual(pages.map((p) => p.length), [5, 5, 2]);
    // Each once; newest first (dead-lettered within the same millisecond, two records of
    // different partitions may come in either order, so the order is checked per partition).
    assert.deepEqual([...pages.flat()].sort(), [...sent].sort());
    const rank = (m: string) => Number(m.split(" ")[1]);
    for (const p of [0, 2]) {
      const mine = pages.flat().filter((m) => (rank(m) % 2 === 0 || rank(m) > 8 ? 0 : 2) === p);
      assert.deepEqual(mine, [...mine].sort((a, b) => rank(b) - rank(a)));
    }
    await assert.rejects(pageDeadLetters(kafka, topic, { before: "nonsense" }), RangeError);
  } finally {
    await producer.disconnect();
    await sql.end();
  }
});

Deno.test(
  "dead letter: a replay goes through the outbox and the relay, once",
  real,
  async () => {
    // A topic the relay routes (`shop.<aggregate type>`), and its DLQ.
    const aggregate = unique("tests-dl-");
    const topic = topicFor(aggregate);
    await createTopics(topic, dlqTopicFor(topic));
    const sql = db(2);
    const kafka = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-dl");
    const producer = kafka.producer(keyedProducer);
    await producer.connect();
    try {
      const id = uuidv7();
      const key = uuidv7();
      const trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      const payload = { requestId: uuidv7(), couponId: key, userId: "u1" };
      await deadLetterOnce(sql, producer, {
        group: "tests-dl",
        topic,
        partition: 3,
        message: {
          ...record("41", { ...eventHeaders(id), traceparent: trace }, JSON.stringify(payload)),
          key: Buffer.from(key),
        } as KafkaMessage,
        eventId: id,
        errorClass: "Error",
        errorMessage: "a bug, fixed since",
      });
      // Found by its event id (dead_letter_log gives where it landed).
      const [letter] = await findDeadLetters(kafka, sql, topic, [id]);
      assert.equal(letter.id, id);
      await replayDeadLetters(sql, [letter], "tests");
      const [row] = await sql`
        select aggregatetype, aggregateid, type, version, payload, traceparent, replayed_from
        from outbox where id = ${id}`;
      assert.deepEqual({ ...row }, {
        aggregatetype: aggregate,
        aggregateid: key,
        type: "CouponIssueRequested",
        version: 1,
        payload,
        traceparent: trace,
        replayed_from: `${dlqTopicFor(topic)}/${letter.dlqPartition}@${letter.dlqOffset}`,
      });
      const [replay] = await sql`
        select event_id, replayed_by from dead_letter_replays
        where dlq_topic = ${dlqTopicFor(topic)} and dlq_offset = ${letter.dlqOffset}`;
      assert.deepEqual({ ...replay }, { event_id: id, replayed_by: "tests" });
      // The relay wrote it back to the origin topic: same id, type, key, payload and trace.
      const [back] = await collect(topic, (r) => r.length >= 1);
      assert.equal(back.headers.id, id);
      assert.equal(back.headers.eventType, "CouponIssueRequested");
      assert.equal(back.headers.traceparent, trace);
      assert.equal(back.key, key);
      assert.deepEqual(JSON.parse(back.value!), payload);

      // Once: again by any name, or a discard of it, is refused and writes nothing.
      const again = await findDeadLetters(kafka, sql, topic, [
        `${letter.dlqPartition}@${letter.dlqOffset}`,
        `${topic}/3@41`,
      ]);
      assert.equal(again.length, 1, "both names are the same dead letter");
      await refused(replayDeadLetters(sql, again, "tests"), "settled");
      await refused(discardDeadLetters(sql, again, "tests"), "settled");
      assert.equal((await sql`select 1 from outbox where id = ${id}`).length, 1);
    } finally {
      await producer.disconnect();
      await sql.end();
    }
  },
);

Deno.test(
  "dead letter: a record of any shape is discarded once; not an event, so never replayed",
  real,
  async () => {
    const topic = unique("tests.dl-shape-");
    await createTopics(topic, dlqTopicFor(topic));
    const sql = db(2);
    const kafka = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-dl");
    const producer = kafka.producer(keyedProducer);
    await producer.connect();
    try {
      for (const [offset, id] of [["5", "not-a-uuid"], ["6", "also-not"]]) {
        await deadLetterOnce(sql, producer, {
          group: "tests-dl",
          topic,
          partition: 0,
          message: record(offset, { id, eventType: "CouponIssueRequested" }),
          errorClass: "PoisonRecord",
          errorMessage: "the id header is not a UUID",
        });
      }
      // Named by DLQ coordinates and by origin coordinates.
      const [first] = await findDeadLetters(kafka, sql, topic, ["0@0"]);
      const [second] = await findDeadLetters(kafka, sql, topic, [`${topic}/0@6`]);
      assert.deepEqual([first.id, second.id], ["not-a-uuid", "also-not"]);
      await refused(replayDeadLetters(sql, [first], "tests"), "notAnEvent");
      await refused(findDeadLetters(kafka, sql, topic, ["0@2"]), "unknown");
      await refused(findDeadLetters(kafka, sql, topic, [`${topic}/0@99`]), "unknown");
      await refused(findDeadLetters(kafka, sql, topic, [uuidv7()]), "unknown");

      await discardDeadLetters(sql, [first], "tests");
      const [d] = await sql`
        select event_id, discarded_by from dead_letter_discards
        where dlq_topic = ${dlqTopicFor(topic)} and dlq_partition = 0 and dlq_offset = 0`;
      assert.deepEqual({ ...d }, { event_id: "not-a-uuid", discarded_by: "tests" });
      await refused(discardDeadLetters(sql, [first], "tests"), "settled");
      const page = await pageDeadLetters(kafka, topic);
      assert.equal(page.letters.length, 2, "a page still holds settled ones; the console filters");
    } finally {
      await producer.disconnect();
      await sql.end();
    }
  },
);

Deno.test(
  "dead letter: the ops API answers 4xx for any record it cannot act on, never 500",
  real,
  async () => {
    // The console's routes act on system topics only: a record of the real shop.order.dlq,
    // isolated by its own (non-UUID) id and addressed by its coordinates.
    const dlq = dlqTopicFor(topicFor("order"));
    const producer = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-dl").producer(
      keyedProducer,
    );
    await producer.connect();
    const sql = db(1);
    try {
      const { call } = api();
      const token = adminToken();
      const odd = unique("odd-id-");
      const [meta] = await producer.send({
        topic: dlq,
        acks: -1,
        messages: [{
          key: "k",
          value: "poison",
          partition: 1,
          headers: { id: odd, "dlq.origin.topic": "shop.order", "dlq.group": "tests" },
        }],
      });
      const key = `1@${meta.baseOffset}`;
      const post = (action: string, ids: unknown) =>
        call("POST", `/ops/api/dead-letters/${dlq}/${action}`, { token, body: { ids } });

      const replay = await post("replay", [key]);
      assert.equal(replay.status, 422, JSON.stringify(replay.body));
      assert.match(replay.body.detail, /not an event/);
      assert.match(replay.headers.get("content-type") ?? "", /application\/problem\+json/);
      assert.equal((await post("discard", ["1@999999999"])).status, 404);
      assert.equal((await post("discard", ["nonsense"])).status, 400);
      const discard = await post("discard", [key]);
      assert.equal(discard.status, 200, JSON.stringify(discard.body));
      assert.deepEqual(discard.body.letters.map((l: { id: string }) => l.id), [odd]);
      assert.equal((await post("discard", [key])).status, 409);
      assert.equal((await post("replay", [key])).status, 422, "still not an event");
      const rows = await sql`select discarded_by from dead_letter_discards where event_id = ${odd}`;
      assert.equal(rows.length, 1);

      // The console's page of open dead letters no longer shows it.
      await waitFor(async () => {
        const page = await call("GET", `/ops/api/dead-letters/${dlq}?limit=50`, { token });
        return page.status === 200 &&
          !page.body.items.some((d: { id: string }) => d.id === odd);
      }, { timeoutMs: 10_000, what: "the discarded record to leave the page" });
      assert.equal(
        (await call("GET", `/ops/api/dead-letters/${dlq}?before=x`, { token })).status,
        400,
      );
    } finally {
      await producer.disconnect();
      await sql.end();
    }
  },
);
