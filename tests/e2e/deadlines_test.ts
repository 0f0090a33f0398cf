/**
 * Deadlines end to end, through the real relay and workers, with short deadlines set by the test:
 * - a participant down past the order deadline: the order is CANCELLED with TIMEOUT, stock and
 *   coupon come back, and the participant, started again, debits nobody;
 * - a poisoned step (the payment of one order fails as bad data and is dead-lettered): the order
 *   times out and compensates; replaying the dead letter changes nothing;
 * - FCFS: a request whose event was dead-lettered is REJECTED with TIMEOUT once the issuer has
 *   decided a later request of the coupon; a backlog older than the deadline is never rejected
 *   by the clock.
 */
import assert from "node:assert/strict";
import { cfg, real } from "../helpers/stack.ts";
import { type System, system } from "../helpers/system.ts";
import { assertInvariants } from "../helpers/invariants.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { kafkaAccess, kafkaClient } from "../../src/platform/kafka.ts";
import { PRINCIPALS } from "../../src/kafka_acls.ts";
import { findDeadLetter, replayDeadLetters } from "../../src/ops/dlq.ts";
import { topicFor } from "../../src/events/topics.ts";
import { ownWorkers } from "../helpers/e2e_env.ts";

const ORDER_DEADLINE_MS = 2000;
const COUPON_REQUEST_DEADLINE_MS = 1500;

/** A worker's counter value (sum over samples matching `labels`). */
async function counter(sys: System, worker: string, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${sys.workers.port(worker)}/metrics`)).text();
  return text.split("\n").filter((l) => l.startsWith(name) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

const balance = async (sys: System, token: string) =>
  (await sys.call("GET", "/wallet", { token })).body.balance as number;

Deno.test("e2e deadlines", { ...real, ...ownWorkers }, async (t) => {
  const sys = await system({
    orderDeadlineMs: ORDER_DEADLINE_MS,
    workerEnv: { COUPON_REQUEST_DEADLINE_MS: String(COUPON_REQUEST_DEADLINE_MS) },
  });
  const kafka = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-deadlines");
  try {
    const couponId = await sys.coupon({
      name: "deadline",
      discount: { type: "fixed", amount: 100 },
      totalQuantity: 100,
    });

    await t.step(
      "payment down past the deadline: TIMEOUT, compensated, nobody debited",
      async () => {
        const product = await sys.product(1000, 5);
        const user = await sys.user(10_000);
        const uc = await sys.grantCoupon(couponId, user);
        const timeoutsBefore = await counter(
          sys,
          "order-saga",
          "saga_order_timeouts_total",
          'missing_step="payment"',
        );
        await sys.workers.stop("payment");
        const r = await sys.call("POST", "/orders", {
          token: user.token,
          body: { items: [{ productId: product, quantity: 2 }], userCouponId: uc },
        });
        assert.equal(r.status, 202);
        const order = await sys.settledOrder(user.token, r.body.orderId, 30_000);
        assert.equal(order.status, "CANCELLED");
        assert.equal(order.cancelReason, "TIMEOUT");
        assert.equal(
          await counter(sys, "order-saga", "saga_order_timeouts_total", 'missing_step="payment"'),
          timeoutsBefore + 1,
        );
        // Inventory and the coupon compensate as for any cancellation.
        await waitFor(async () => {
          const [p] = await sys.sql`select stock from products where id = ${product}`;
          const [c] = await sys.sql`select status from user_coupons where id = ${uc}`;
          return p.stock === 5 && c.status === "AVAILABLE";
        }, { timeoutMs: 30_000, what: "stock and coupon restored" });

        // Payment comes back, meets OrderCreated past its deadline, then OrderCancelled: no debit.
        await sys.workers.start("payment");
        await waitFor(async () => {
          const [p] = await sys.sql`select status from payments where order_id = ${r.body.orderId}`;
          return p?.status === "CANCELLED";
        }, { timeoutMs: 30_000, what: "payment to record the order as cancelled" });
        assert.equal(await balance(sys, user.token), 10_000);
        // At least this order's (the group may meet other tests' expired orders too).
        assert.ok(
          await counter(sys, "payment", "consumer_late_events_total", 'why="expired"') >= 1,
          "the late OrderCreated was counted as expired",
        );
      },
    );

    await t.step(
      "a poisoned step: dead-lettered, the order times out; a replay changes nothing",
      async () => {
        const product = await sys.product(500, 5);
        const user = await sys.user(10_000);
        // The test's own fault: payment's insert for this user fails as bad data (P0001), so its
        // OrderCreated goes to the DLQ; cancellation rows still pass.
        const fn = `poison_${user.id.replaceAll("-", "_")}`;
        await sys.sql.unsafe(`
        create function ${fn}() returns trigger language plpgsql as $$
        begin raise exception 'poisoned by the test'; end $$`);
        await sys.sql.unsafe(`
        create trigger ${fn} before insert on payments for each row
        when (new.user_id = '${user.id}' and new.status <> 'CANCELLED') execute function ${fn}()`);
        try {
          const r = await sys.call("POST", "/orders", {
            token: user.token,
            body: { items: [{ productId: product, quantity: 1 }] },
          });
          const orderId = r.body.orderId as string;
          const order = await sys.settledOrder(user.token, orderId, 30_000);
          assert.equal(order.cancelReason, "TIMEOUT");
          const letter = await waitFor(
            () =>
              findDeadLetter(
                kafka,
                topicFor("order"),
                (d) =>
                  d.group === "payment" && d.record.value?.toString().includes(orderId) === true,
              ),
            { timeoutMs: 30_000, what: "the poisoned OrderCreated in the DLQ" },
          );
          await waitFor(async () => {
            const [p] = await sys.sql`select stock from products where id = ${product}`;
            const [pay] = await sys.sql`select status from payments where order_id = ${orderId}`;
            return p.stock === 5 && pay?.status === "CANCELLED";
          }, { timeoutMs: 30_000, what: "stock released and the payment recorded as cancelled" });

          await sys.sql.unsafe(`drop trigger ${fn} on payments`);
          const lateBefore = await counter(
            sys,
            "payment",
            "consumer_late_events_total",
            'why="decided"',
          );
          // Through the outbox: the relay writes OrderCreated again, same id; every group
          // that applied it skips it (inbox), payment meets an order already decided.
          await replayDeadLetters(sys.sql, [letter], "tests");
          await waitFor(
            async () =>
              (await counter(sys, "payment", "consumer_late_events_total", 'why="decided"')) ===
                lateBefore + 1,
            { timeoutMs: 30_000, what: "the replay counted as a no-op" },
          );
          assert.equal(await balance(sys, user.token), 10_000);
          const [o] = await sys.sql`select status, cancel_reason from orders where id = ${orderId}`;
          assert.deepEqual({ ...o }, { status: "CANCELLED", cancel_reason: "TIMEOUT" });
        } finally {
          await sys.sql.unsafe(`drop trigger if exists ${fn} on payments`);
          await sys.sql.unsafe(`drop function if exists ${fn}()`);
        }
      },
    );

    await t.step("FCFS: a passed-over request times out; a backlog never does", async () => {
      const coupon = await sys.coupon({
        name: "fcfs-deadline",
        discount: { type: "percent", percent: 5 },
        totalQuantity: 10,
      });
      const [stuck, later] = [await sys.user(), await sys.user()];
      // The stuck request's decision fails as bad data: dead-lettered, left PENDING.
      const fn = `poison_req_${stuck.id.replaceAll("-", "_")}`;
      await sys.sql.unsafe(`
        create function ${fn}() returns trigger language plpgsql as $$
        begin raise exception 'poisoned by the test'; end $$`);
      await sys.sql.unsafe(`
        create trigger ${fn} before update on coupon_requests for each row
        when (new.user_id = '${stuck.id}') execute function ${fn}()`);
      let stuckId = "";
      try {
        stuckId = (await sys.call("POST", `/coupons/${coupon}/issue-requests`, {
          token: stuck.token,
        })).body.requestId;
        // `later` comes after `stuck` on the coupon's partition: once it is ISSUED, the stuck
        // request's record has failed and been dead-lettered.
        await sys.grantCoupon(coupon, later);
      } finally {
        await sys.sql.unsafe(`drop trigger if exists ${fn} on coupon_requests`);
        await sys.sql.unsafe(`drop function if exists ${fn}()`);
      }
      const outcome = await waitFor(async () => {
        const s = await sys.call("GET", `/coupon-requests/${stuckId}`, { token: stuck.token });
        return s.body.status !== "PENDING" ? s.body : undefined;
      }, { timeoutMs: 30_000, what: "the passed-over request to time out" });
      assert.equal(outcome.status, "REJECTED");
      assert.equal(outcome.reason, "TIMEOUT");

      // A backlog older than the deadline: the issuer is stopped while requests pile up.
      await sys.workers.stop("coupon-issuer");
      const backlog = await Promise.all(Array.from({ length: 12 }, () => sys.user()));
      const ids: string[] = [];
      for (const u of backlog) {
        ids.push(
          (await sys.call("POST", `/coupons/${coupon}/issue-requests`, { token: u.token }))
            .body.requestId,
        );
      }
      await waitFor(async () => {
        const [r] = await sys.sql<{ older: boolean }[]>`
          select max(created_at) < now() - make_interval(secs => ${
          COUPON_REQUEST_DEADLINE_MS / 1000
        }) as older
          from coupon_requests where id = any(${ids}::uuid[])`;
        return r.older;
      }, { timeoutMs: 10_000, what: "the backlog to pass its deadline" });
      await sys.workers.start("coupon-issuer");
      const decided = await waitFor(async () => {
        const rows = await sys.sql<{ status: string; reason: string | null }[]>`
          select status, reason from coupon_requests where id = any(${ids}::uuid[])`;
        return rows.every((r) => r.status !== "PENDING") ? rows : undefined;
      }, { timeoutMs: 30_000, what: "the backlog to be decided" });
      assert.equal(decided.filter((r) => r.reason === "TIMEOUT").length, 0);
      assert.equal(decided.filter((r) => r.status === "ISSUED").length, 9); // 10 - `later`
    });
    await assertInvariants(sys.sql, sys.scope);
  } finally {
    await sys.close();
  }
});
