/**
 * FCFS issuance end to end (API -> outbox -> Debezium -> Kafka -> coupon-issuer): a coupon of
 * 50, 300 distinct users plus 50 repeated requests, all at once.
 */
import assert from "node:assert/strict";
import { newUser } from "../helpers/api.ts";
import { collect, real } from "../helpers/stack.ts";
import { topicFor } from "../../src/events/topics.ts";
import { system } from "../helpers/system.ts";
import { assertInvariants } from "../helpers/invariants.ts";
import { waitFor } from "../../src/platform/wait_for.ts";

Deno.test(
  "e2e fcfs: 50 coupons, 300 users + 50 repeats at once: exactly 50 ISSUED, the rest SOLD_OUT",
  real,
  async () => {
    const sys = await system();
    try {
      const couponId = await sys.coupon({
        name: "fcfs-50",
        discount: { type: "fixed", amount: 1000 },
        totalQuantity: 50,
      });
      const users = Array.from({ length: 300 }, () => newUser("fcfs"));
      sys.scope.userIds.push(...users.map((u) => u.id));
      const callers = [...users, ...users.slice(0, 50)]; // 50 users ask twice
      const started = performance.now();
      const replies = await Promise.all(
        callers.map((u) =>
          sys.call("POST", `/coupons/${couponId}/issue-requests`, { token: u.token })
        ),
      );
      assert.equal(replies.filter((r) => r.status === 202).length, 300, "one new request per user");
      assert.equal(replies.filter((r) => r.status === 200).length, 50, "repeats get their request");
      for (const r of replies) assert.ok(r.status === 202 || r.status === 200);

      await waitFor(async () => {
        const [{ n }] = await sys.sql<{ n: number }[]>`
        select count(*)::int as n from coupon_requests where coupon_id = ${couponId} and status = 'PENDING'`;
        return n === 0;
      }, { timeoutMs: 120_000, intervalMs: 50, what: "every request to be decided" });
      const drainMs = performance.now() - started;
      console.log(`fcfs: 300 requests accepted and decided in ${Math.round(drainMs)} ms`);

      const rows = await sys.sql<{ status: string; reason: string | null; n: number }[]>`
      select status, reason, count(*)::int as n from coupon_requests
      where coupon_id = ${couponId} group by 1, 2 order by 1`;
      assert.deepEqual(rows.map((r) => ({ ...r })), [
        { status: "ISSUED", reason: null, n: 50 },
        { status: "REJECTED", reason: "SOLD_OUT", n: 250 },
      ]);
      const [coupon] = await sys.sql`select issued_quantity from coupons where id = ${couponId}`;
      assert.equal(coupon.issued_quantity, 50);
      const holders = await sys.sql`select user_id from user_coupons where coupon_id = ${couponId}`;
      assert.equal(new Set(holders.map((h) => h.user_id)).size, 50, "no user twice");

      // First come, first served: the ISSUED requests are exactly the first 50 in the partition's
      // offset order (the order their transactions committed).
      const records = await collect(
        topicFor("coupon-issue"),
        (rs) =>
          rs.filter((r) => r.key === couponId && r.headers.eventType === "CouponIssueRequested")
            .length >= 300,
      );
      const inOrder = records
        .filter((r) => r.key === couponId && r.headers.eventType === "CouponIssueRequested")
        .sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)))
        .map((r) => JSON.parse(r.value!).requestId as string);
      assert.equal(
        new Set(records.filter((r) => r.key === couponId).map((r) => r.partition)).size,
        1,
        "one partition",
      );
      const issued = await sys.sql<{ id: string }[]>`
      select id from coupon_requests where coupon_id = ${couponId} and status = 'ISSUED'`;
      assert.deepEqual(new Set(issued.map((r) => r.id)), new Set(inOrder.slice(0, 50)));

      // What the users see.
      const a = replies[0].body;
      const seen = await sys.call("GET", `/coupon-requests/${a.requestId}`, {
        token: users[0].token,
      });
      assert.ok(["ISSUED", "REJECTED"].includes(seen.body.status));
      await assertInvariants(sys.sql, sys.scope);
    } finally {
      await sys.close();
    }
  },
);
