/**
 * The FCFS deadline sweep judges "passed over" by log offsets, never by the clock: against real
 * Postgres, in a scratch schema holding copies of the tables the issuer and its sweep use (so
 * no other test's requests are swept, and nothing reaches the relay), the issuer decides a
 * request at offset 10 of partition 2, then the sweep runs with every request past its deadline:
 * - a request created earlier than the decided one but whose record the issuer has not seen
 *   (its transaction committed later: it is queued behind offset 10) stays PENDING;
 * - a request whose record the issuer dead-lettered at offset 7, below its mark, is REJECTED with
 *   TIMEOUT, with its CouponIssueRejected in the (scratch) outbox.
 */
import assert from "node:assert/strict";
import { couponIssuer, sweepPassedOverRequests } from "../../src/coupons/issuer.ts";
import { logger } from "../../src/platform/log.ts";
import type { DecodedEvent } from "../../src/platform/decode_record.ts";
import { uuidv7 } from "../../src/platform/uuidv7.ts";
import { db, real, unique } from "../helpers/stack.ts";

Deno.test("fcfs sweep: a request the issuer has not seen is never passed over", real, async () => {
  const owner = db(1);
  const schema = unique("fcfs_sweep_").replaceAll("-", "_");
  // One connection, so the session's search path holds for every statement, transactions too.
  const sql = db(1);
  const log = logger("tests");
  try {
    await owner.unsafe(`
      create schema ${schema};
      create table ${schema}.coupons (like coupons.coupons including all);
      create table ${schema}.coupon_requests (like coupons.coupon_requests including all);
      create table ${schema}.user_coupons (like coupons.user_coupons including all);
      create table ${schema}.dead_letter_log (like platform.dead_letter_log including all);
      create table ${schema}.outbox (like platform.outbox including all);`);
    await sql.unsafe(`set search_path = ${schema}`);

    const coupon = uuidv7();
    const [unseen, dead, later] = [uuidv7(), uuidv7(), uuidv7()];
    const [unseenEvent, deadEvent, laterEvent] = [uuidv7(), uuidv7(), uuidv7()];
    await sql`
      insert into coupons (id, name, discount_type, discount_value, total_quantity)
      values (${coupon}, 'sweep', 'fixed', 100, 10)`;
    // By the clock: `unseen` started first, `dead` next, `later` last; all past the deadline.
    await sql`
      insert into coupon_requests (id, coupon_id, user_id, event_id, created_at)
      values (${unseen}, ${coupon}, 'u-unseen', ${unseenEvent}, now() - interval '30 seconds'),
             (${dead}, ${coupon}, 'u-dead', ${deadEvent}, now() - interval '20 seconds'),
             (${later}, ${coupon}, 'u-later', ${laterEvent}, now() - interval '10 seconds')`;
    // The issuer dead-lettered `dead`'s record at offset 7 of partition 2 ...
    await sql`
      insert into dead_letter_log (consumer_group, topic, partition, "offset", event_id,
                                   error_class, produced_at)
      values ('coupon-issuer', 'shop.coupon-issue', 2, 7, ${deadEvent}, 'Error', now())`;
    // ... then decided `later`, whose record is at offset 10 of partition 2.
    const event: DecodedEvent = {
      id: laterEvent,
      type: "CouponIssueRequested",
      version: 1,
      key: coupon,
      payload: { requestId: later, couponId: coupon, userId: "u-later" },
      topic: "shop.coupon-issue",
      partition: 2,
      offset: "10",
      timestamp: Date.now(),
    };
    await sql.begin((tx) => couponIssuer.apply(tx, [event], log));
    const [mark] = await sql`select decided_partition, decided_offset from coupons`;
    assert.deepEqual({ ...mark }, { decided_partition: 2, decided_offset: 10 });

    assert.equal(await sweepPassedOverRequests(sql, log, 1000), 1);
    const rows = await sql<{ id: string; status: string; reason: string | null }[]>`
      select id, status, reason from coupon_requests`;
    const of = (id: string) => rows.find((r) => r.id === id);
    assert.equal(of(later)?.status, "ISSUED");
    assert.deepEqual(
      { ...of(unseen) },
      { id: unseen, status: "PENDING", reason: null },
      "not seen by the issuer: queued, not passed over",
    );
    assert.deepEqual({ ...of(dead) }, { id: dead, status: "REJECTED", reason: "TIMEOUT" });
    const rejected = await sql`
      select payload from outbox where type = 'CouponIssueRejected'`;
    assert.deepEqual(rejected.map((r) => r.payload.requestId), [dead]);
  } finally {
    await sql.end();
    await owner.unsafe(`drop schema if exists ${schema} cascade`);
    await owner.end();
  }
});
