/**
 * `Prefer: wait=N` on GET /orders/{id} and GET /coupon-requests/{id}, against the API as a real
 * process (its pool of 8 as `deno task api` opens it, its one listening connection) and the
 * stack's Postgres. The decisions are made here, by the same UPDATE the saga and the issuer run
 * (their trigger notifies, migrations/0013), so the time of each decision is known exactly: the
 * moment its statement was sent. No worker runs; every order is inserted with a deadline far
 * away, so nothing else decides it.
 */
import assert from "node:assert/strict";
import { waitFor } from "../../src/platform/wait_for.ts";
import { uuidv7 } from "../../src/platform/uuidv7.ts";
import { newUser } from "../helpers/api.ts";
import { type ApiProcess, startApiProcess } from "../helpers/api_process.ts";
import { db, real } from "../helpers/stack.ts";
import type { Sql } from "../../src/platform/db.ts";

/** `n` PENDING orders of `userId`, written as the owner (no lines: these reads need none). */
async function pendingOrders(sql: Sql, userId: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => uuidv7());
  await sql`
    insert into orders.orders (id, user_id, total_amount, discount_amount, payment_amount,
                               deadline_at)
    select id, ${userId}, 100, 0, 100, now() + interval '1 hour'
    from unnest(${ids}::uuid[]) as id`;
  return ids;
}

/** The saga's confirmation, for `ids`, in one transaction. */
async function confirm(sql: Sql, ids: string[]): Promise<void> {
  await sql`
    update orders.orders set status = 'CONFIRMED', updated_at = now()
    where id = any(${ids}::uuid[]) and status = 'PENDING'`;
}

interface Answer {
  status: number;
  body: { status?: string };
  applied: string | null;
  /** performance.now() when the response arrived. */
  at: number;
}

async function getWith(
  api: ApiProcess,
  token: string,
  path: string,
  prefer?: string,
): Promise<Answer> {
  const res = await fetch(`${api.url}${path}`, {
    headers: { authorization: `Bearer ${token}`, ...(prefer ? { prefer } : {}) },
    signal: AbortSignal.timeout(60_000),
  });
  const body = await res.json();
  return {
    status: res.status,
    body,
    applied: res.headers.get("preference-applied"),
    at: performance.now(),
  };
}

/** Requests the API holds waiting on `channel` now (its ops port's gauge). */
async function waiting(api: ApiProcess, channel: string): Promise<number> {
  const text = await (await fetch(`${api.opsUrl}/metrics`)).text();
  const m = new RegExp(`^waiting_requests\\{channel="${channel}"\\} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/** The API's pool backends (application_name `api`) by state, and its listening ones. */
async function apiBackends(sql: Sql) {
  const rows = await sql<{ application_name: string; state: string | null; n: number }[]>`
    select application_name, state, count(*)::int as n from pg_stat_activity
    where usename = 'shop_api' and application_name in ('api', 'api-listen')
    group by 1, 2`;
  const count = (pred: (r: (typeof rows)[number]) => boolean) =>
    rows.filter(pred).reduce((a, r) => a + r.n, 0);
  return {
    pool: count((r) => r.application_name === "api"),
    poolBusy: count((r) => r.application_name === "api" && r.state !== "idle"),
    listen: count((r) => r.application_name === "api-listen"),
  };
}

function p99(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)];
}

let shared: { api: ApiProcess; sql: Sql } | undefined;
async function stack() {
  return shared ??= { api: await startApiProcess(), sql: db(4) };
}

Deno.test(
  "prefer wait: an order is answered within 100 ms (p99) of its decision",
  real,
  async () => {
    const { api, sql } = await stack();
    const user = newUser("wait-latency");
    const ids = await pendingOrders(sql, user.id, 200);
    // Per order: from the decision's commit (the moment its notification is sent; acknowledged to
    // this process at the same time) to the answer, and from sending the UPDATE (which adds the
    // statement's own round trip) to the answer.
    const fromCommit: number[] = [];
    const fromSent: number[] = [];
    // One at a time: the client waits (the API holds it, seen on its gauge), then the decision.
    for (const id of ids) {
      const answer = getWith(api, user.token, `/orders/${id}`, "wait=20");
      await waitFor(async () => (await waiting(api, "order_decided")) === 1, {
        timeoutMs: 10_000,
        intervalMs: 10,
        what: "the request to wait",
      });
      const sentAt = performance.now();
      const [committedAt, a] = await Promise.all([
        confirm(sql, [id]).then(() => performance.now()),
        answer,
      ]);
      assert.equal(a.status, 200);
      assert.equal(a.body.status, "CONFIRMED");
      assert.equal(a.applied, "wait=20");
      fromCommit.push(Math.max(0, a.at - committedAt));
      fromSent.push(a.at - sentAt);
    }
    const worst = p99(fromCommit);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    console.log(
      `wake-up latency over ${ids.length} orders: from commit p50 ${
        median(fromCommit).toFixed(1)
      } ms, p99 ${worst.toFixed(1)} ms, max ${Math.max(...fromCommit).toFixed(1)} ms; ` +
        `from sending the UPDATE p50 ${median(fromSent).toFixed(1)} ms, p99 ${
          p99(fromSent).toFixed(1)
        } ms`,
    );
    assert.ok(worst < 100, `p99 ${worst.toFixed(1)} ms`);
  },
);

Deno.test(
  "prefer wait: a wait that times out answers PENDING after N s, past the 5 s request timeout",
  real,
  async () => {
    const { api, sql } = await stack();
    const user = newUser("wait-timeout");
    const [id] = await pendingOrders(sql, user.id, 1);
    const started = performance.now();
    const a = await getWith(api, user.token, `/orders/${id}`, "wait=6");
    const s = (a.at - started) / 1000;
    // 200, not the request timeout's 503: the wait does not count against it.
    assert.equal(a.status, 200);
    assert.equal(a.body.status, "PENDING");
    assert.equal(a.applied, "wait=6");
    assert.ok(s >= 5.9 && s < 8, `answered after ${s.toFixed(2)} s`);
  },
);

Deno.test(
  "prefer wait: without the header, or with an invalid one, nothing waits",
  real,
  async () => {
    const { api, sql } = await stack();
    const user = newUser("wait-none");
    const [id] = await pendingOrders(sql, user.id, 1);
    for (const prefer of [undefined, "wait=abc", "wait=-1", "wait=1.5", "wait=", "respond-async"]) {
      const started = performance.now();
      const a = await getWith(api, user.token, `/orders/${id}`, prefer);
      assert.equal(a.status, 200, String(prefer));
      assert.equal(a.body.status, "PENDING", String(prefer));
      assert.equal(a.applied, null, `no Preference-Applied for ${prefer}`);
      assert.ok(a.at - started < 900, `${prefer}: ${(a.at - started).toFixed(0)} ms`);
    }
    // Another user's order is still 404, waiting or not, and at once.
    const other = newUser("wait-other");
    const started = performance.now();
    const a = await getWith(api, other.token, `/orders/${id}`, "wait=10");
    assert.equal(a.status, 404);
    assert.equal(a.applied, null);
    assert.ok(a.at - started < 900, `404 after ${(a.at - started).toFixed(0)} ms`);
  },
);

Deno.test(
  "prefer wait: decided already, or N above 30: answered at once, wait=30",
  real,
  async () => {
    const { api, sql } = await stack();
    const user = newUser("wait-clamp");
    const [id] = await pendingOrders(sql, user.id, 1);
    await confirm(sql, [id]);
    for (
      const [prefer, applied] of [["wait=3600", "wait=30"], ['respond-async, WAIT="5"', "wait=5"]]
    ) {
      const started = performance.now();
      const a = await getWith(api, user.token, `/orders/${id}`, prefer);
      assert.equal(a.body.status, "CONFIRMED");
      assert.equal(a.applied, applied, prefer);
      assert.ok(a.at - started < 900, `${prefer}: ${(a.at - started).toFixed(0)} ms`);
    }
  },
);

Deno.test(
  "prefer wait: a coupon request is answered when the issuer decides it",
  real,
  async () => {
    const { api, sql } = await stack();
    const user = newUser("wait-coupon");
    const couponId = uuidv7();
    const requestId = uuidv7();
    await sql`
    insert into coupons.coupons (id, name, discount_type, discount_value, total_quantity)
    values (${couponId}, 'wait test', 'fixed', 100, 1)`;
    await sql`
    insert into coupons.coupon_requests (id, coupon_id, user_id)
    values (${requestId}, ${couponId}, ${user.id})`;
    const answer = getWith(api, user.token, `/coupon-requests/${requestId}`, "wait=20");
    await waitFor(async () => (await waiting(api, "coupon_request_decided")) === 1, {
      timeoutMs: 10_000,
      intervalMs: 10,
      what: "the request to wait",
    });
    const decidedAt = performance.now();
    await sql`
    update coupons.coupon_requests set status = 'REJECTED', reason = 'SOLD_OUT', updated_at = now()
    where id = ${requestId}`;
    const a = await answer;
    assert.equal(a.status, 200);
    assert.equal(a.body.status, "REJECTED");
    assert.equal(a.applied, "wait=20");
    assert.ok(a.at - decidedAt < 1000, `${(a.at - decidedAt).toFixed(0)} ms`);
  },
);

Deno.test(
  "prefer wait: 1,000 waiting clients hold none of the pool's 8 connections, all answered",
  real,
  async () => {
    const { api, sql } = await stack();
    const user = newUser("wait-many");
    const n = 1000;
    const ids = await pendingOrders(sql, user.id, n);
    const answers = ids.map((id) => getWith(api, user.token, `/orders/${id}`, "wait=30"));
    try {
      await waitFor(async () => (await waiting(api, "order_decided")) === n, {
        timeoutMs: 30_000,
        what: `${n} requests to wait`,
      });
      // All of them waiting: no backend of the pool is busy (none in a query, none in a
      // transaction), the pool never opened more than its 8, and one connection listens.
      const during = await apiBackends(sql);
      console.log(`with ${n} waiting: ${JSON.stringify(during)}`);
      assert.equal(during.poolBusy, 0, JSON.stringify(during));
      assert.ok(during.pool <= 8, JSON.stringify(during));
      assert.equal(during.listen, 1, JSON.stringify(during));

      const decidedAt = performance.now();
      await confirm(sql, ids);
      const all = await Promise.all(answers);
      const last = Math.max(...all.map((a) => a.at)) - decidedAt;
      console.log(`${n} answers, the last ${last.toFixed(0)} ms after the decision`);
      for (const a of all) {
        assert.equal(a.status, 200);
        assert.equal(a.body.status, "CONFIRMED");
        assert.equal(a.applied, "wait=30");
      }
      // Well before the 30 s they would have waited without the wake-up.
      assert.ok(last < 10_000, `last answer after ${last.toFixed(0)} ms`);
    } finally {
      // A failure above leaves no waiter behind for the next test.
      await confirm(sql, ids);
      await Promise.allSettled(answers);
    }
    assert.equal(await waiting(api, "order_decided"), 0);
  },
);

Deno.test(
  "prefer wait: a dropped listening connection is replaced and its waiters still woken",
  real,
  async () => {
    const { api, sql } = await stack();
    const user = newUser("wait-drop");
    const [id] = await pendingOrders(sql, user.id, 1);
    const answer = getWith(api, user.token, `/orders/${id}`, "wait=25");
    await waitFor(async () => (await waiting(api, "order_decided")) === 1, {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: "the request to wait",
    });
    const [{ pid }] = await sql<{ pid: number }[]>`
      select pid from pg_stat_activity where usename = 'shop_api' and application_name = 'api-listen'`;
    await sql`select pg_terminate_backend(${pid})`;
    // A new connection listens again: its last LISTEN (the channels run one after the other,
    // the coupons' last) has finished.
    await waitFor(
      async () => {
        const [row] = await sql<{ ok: boolean }[]>`
          select exists (select from pg_stat_activity
            where usename = 'shop_api' and application_name = 'api-listen' and pid <> ${pid}
              and state = 'idle' and query ilike '%coupon_request_decided%') as ok`;
        return row.ok;
      },
      { timeoutMs: 10_000, intervalMs: 20, what: "a new listening connection" },
    );
    const decidedAt = performance.now();
    await confirm(sql, [id]);
    const a = await answer;
    assert.equal(a.body.status, "CONFIRMED");
    assert.ok(a.at - decidedAt < 1000, `${(a.at - decidedAt).toFixed(0)} ms after the decision`);
  },
);

Deno.test("prefer wait: a graceful stop answers waiting requests at once", real, async () => {
  const { sql } = await stack();
  const own = await startApiProcess();
  const user = newUser("wait-stop");
  const [id] = await pendingOrders(sql, user.id, 1);
  const answer = getWith(own, user.token, `/orders/${id}`, "wait=25");
  try {
    await waitFor(async () => (await waiting(own, "order_decided")) === 1, {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: "the request to wait",
    });
  } catch (err) {
    await own.stop();
    throw err;
  }
  const stoppingAt = performance.now();
  await own.stop(); // SIGTERM: drains the requests in flight, then exits
  const a = await answer;
  assert.equal(a.status, 200);
  assert.equal(a.body.status, "PENDING");
  assert.ok(
    a.at - stoppingAt < 5000,
    `answered ${(a.at - stoppingAt).toFixed(0)} ms after SIGTERM`,
  );
});

Deno.test("prefer wait: stop the API", real, async () => {
  if (!shared) return;
  await shared.api.stop();
  await shared.sql.end();
  shared = undefined;
});
