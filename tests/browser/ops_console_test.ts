/**
 * The ops console in a real browser, against the API and worker processes on the real stack:
 * lag rises while a consumer group is stopped under load and falls once it is back; a dead
 * letter shows up, is replayed from the page, leaves the list, and takes effect once; a poison
 * record is discarded from the page; a cancelled order's timeline shows the failing step and the
 * compensations. No request of the page leaves the API's origin.
 */
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { kafkaAccess, kafkaClient, keyedProducer } from "../../src/platform/kafka.ts";
import { PRINCIPALS } from "../../src/kafka_acls.ts";
import { topicFor } from "../../src/events/topics.ts";
import { uuidv7 } from "../../src/platform/uuidv7.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { cfg, real } from "../helpers/stack.ts";
import { adminToken, newUser } from "../helpers/api.ts";
import { system } from "../helpers/system.ts";
import { startApiProcess } from "../helpers/api_process.ts";
import { foreignRequests, launchBrowser } from "../helpers/browser.ts";
import { assertInvariants } from "../helpers/invariants.ts";

/** Opens the console with the admin token in the fragment (never sent to the server). */
async function openConsole(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/ops#token=${adminToken()}`, { waitUntil: "domcontentloaded" });
  await page.waitForSelector('[data-lag-group="coupon-issuer"]', { timeout: 20_000 });
}

const lagOnPage = (page: Page, group: string) =>
  page.$eval(`[data-lag-group="${group}"]`, (el) => Number(el.textContent));

async function rowOnPage(page: Page, selector: string): Promise<boolean> {
  const handle = await page.$(selector);
  await handle?.dispose();
  return handle !== null;
}

/** Clicks a button by selector inside the page (the tables are redrawn every second). */
const click = (page: Page, selector: string) =>
  page.$eval(selector, (el) => (el as unknown as { click(): void }).click());

Deno.test(
  "browser: /ops lag rises while a group is stopped under load and falls after it restarts",
  real,
  async () => {
    const sys = await system({ workers: false });
    await sys.workers.start("coupon-issuer");
    const api = await startApiProcess({
      env: {
        WORKER_OPS_URLS: `coupon-issuer=http://127.0.0.1:${sys.workers.port("coupon-issuer")}`,
      },
    });
    const browser = await launchBrowser();
    try {
      const { page, requests } = await browser.page();
      await openConsole(page, api.url);
      // The page shows the worker's own counters when it can reach its ops port.
      await waitFor(
        () =>
          page.$eval('[data-group="coupon-issuer"]', (el) => /\d+ \/ \d+/.test(el.textContent!)),
        { timeoutMs: 10_000, what: "the issuer's retries on the page" },
      );
      const couponId = await sys.coupon({
        name: "ops-lag",
        discount: { type: "fixed", amount: 1 },
        totalQuantity: 1000,
      });
      const base = await lagOnPage(page, "coupon-issuer");
      await sys.workers.stop("coupon-issuer");
      const users = Array.from({ length: 60 }, () => newUser("lag"));
      for (const u of users) {
        const r = await sys.call("POST", `/coupons/${couponId}/issue-requests`, { token: u.token });
        assert.equal(r.status, 202);
      }
      const peak = await waitFor(async () => {
        const lag = await lagOnPage(page, "coupon-issuer");
        return lag >= base + 60 ? lag : undefined;
      }, { timeoutMs: 30_000, what: "the page's coupon-issuer lag to rise by 60" });

      await sys.workers.start("coupon-issuer");
      await waitFor(async () => (await lagOnPage(page, "coupon-issuer")) <= peak - 60, {
        timeoutMs: 60_000,
        what: "the page's coupon-issuer lag to fall after the restart",
      });
      await waitFor(async () => {
        const [r] = await sys.sql<{ n: number }[]>`
          select count(*)::int as n from coupon_requests
          where coupon_id = ${couponId} and status = 'ISSUED'`;
        return r.n === 60;
      }, { timeoutMs: 30_000, what: "the 60 requests to be issued" });
      assert.deepEqual(foreignRequests(requests, api.url), []);
    } finally {
      await browser.close();
      await api.stop();
      await sys.close();
    }
  },
);

Deno.test(
  "browser: /ops dead letters: replay from the page (applied once), discard a poison",
  real,
  async () => {
    const sys = await system({ workers: false });
    await sys.workers.start("coupon-issuer");
    const api = await startApiProcess();
    const browser = await launchBrowser();
    const producer = kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-ops-dlq").producer(
      keyedProducer,
    );
    await producer.connect();
    try {
      const { page, requests } = await browser.page();
      await openConsole(page, api.url);
      const couponId = await sys.coupon({
        name: "ops-dlq",
        discount: { type: "fixed", amount: 1 },
        totalQuantity: 5,
      });
      const user = await sys.user();
      // A valid event whose request row does not exist yet: the issuer dead-letters it. And a
      // poison record (not JSON) to discard.
      const requestId = uuidv7();
      const eventId = uuidv7();
      const poisonId = uuidv7();
      const topic = topicFor("coupon-issue");
      await producer.send({
        topic,
        messages: [
          {
            key: couponId,
            value: JSON.stringify({ requestId, couponId, userId: user.id }),
            headers: { id: eventId, eventType: "CouponIssueRequested", eventVersion: "1" },
          },
          {
            key: couponId,
            value: "poison",
            headers: { id: poisonId, eventType: "CouponIssueRequested", eventVersion: "1" },
          },
        ],
      });
      const row = `tr[data-dlq-id="${eventId}"]`;
      const poisonRow = `tr[data-dlq-id="${poisonId}"]`;
      await waitFor(
        async () => (await rowOnPage(page, row)) && (await rowOnPage(page, poisonRow)),
        {
          timeoutMs: 60_000,
          what: "both dead letters in the page's list",
        },
      );
      const shown = await page.$eval(row, (el) => el.textContent ?? "");
      assert.match(shown, /not found/, "the error is shown");
      assert.match(shown, /shop\.coupon-issue\/\d+@\d+/, "the origin is shown");
      assert.ok(shown.includes(requestId), "the payload preview is shown");
      await browser.screenshot(page, "ops-console");

      // The fix (the missing row), then Replay in the page.
      await sys.sql`
        insert into coupon_requests (id, coupon_id, user_id) values (${requestId}, ${couponId}, ${user.id})`;
      await click(page, `${row} button[data-action="replay"]`);
      await waitFor(async () => !(await rowOnPage(page, row)), {
        timeoutMs: 15_000,
        what: "the replayed dead letter to leave the list",
      });
      await waitFor(async () => {
        const [r] = await sys.sql`select status from coupon_requests where id = ${requestId}`;
        return r.status === "ISSUED";
      }, { timeoutMs: 30_000, what: "the replayed request to be issued" });

      // Discard the poison: it leaves the list and the decision is recorded with its author.
      await click(page, `${poisonRow} button[data-action="discard"]`);
      await waitFor(async () => !(await rowOnPage(page, poisonRow)), {
        timeoutMs: 15_000,
        what: "the discarded dead letter to leave the list",
      });
      const [discard] = await sys.sql`
        select discarded_by from dead_letter_discards where event_id = ${poisonId}`;
      assert.equal(discard.discarded_by, "admin-tests");

      // Effect once: a marker request behind the replay is decided, and the coupon counts two.
      const marker = await sys.call("POST", `/coupons/${couponId}/issue-requests`, {
        token: (await sys.user()).token,
      });
      assert.equal(marker.status, 202);
      await waitFor(async () => {
        const rows = await sys.sql`
          select 1 from coupon_requests where coupon_id = ${couponId} and status = 'ISSUED'`;
        return rows.length === 2;
      }, { timeoutMs: 30_000, what: "the marker request" });
      const [c] = await sys.sql`select issued_quantity from coupons where id = ${couponId}`;
      assert.equal(c.issued_quantity, 2, "the replayed event counted once");
      const claims = await sys.sql`
        select 1 from inbox where consumer_group = 'coupon-issuer' and event_id = ${eventId}`;
      assert.equal(claims.length, 1);

      // Both actions are audited with the admin's sub.
      const audit = await waitFor(async () => {
        const lines = (await Deno.readTextFile(api.logPath)).split("\n")
          .filter((l) =>
            l.includes('"audit":"ops"') && (l.includes(eventId) || l.includes(poisonId))
          );
        return lines.length === 2 ? lines.map((l) => JSON.parse(l)) : undefined;
      }, { timeoutMs: 5000, what: "two audit lines in the API log" });
      assert.deepEqual(audit.map((a) => [a.msg, a.admin]), [
        ["dead letters replayed", "admin-tests"],
        ["dead letters discarded", "admin-tests"],
      ]);
      assert.deepEqual(foreignRequests(requests, api.url), []);
      await assertInvariants(sys.sql, sys.scope);
    } finally {
      await producer.disconnect();
      await browser.close();
      await api.stop();
      await sys.close();
    }
  },
);

Deno.test(
  "browser: /ops/orders/:id shows a cancelled order's failing step and compensations",
  real,
  async () => {
    const sys = await system();
    const api = await startApiProcess();
    const browser = await launchBrowser();
    try {
      const product = await sys.product(1000, 5);
      const couponId = await sys.coupon({
        name: "ops-timeline",
        discount: { type: "fixed", amount: 100 },
        totalQuantity: 5,
      });
      const user = await sys.user(0); // no money: payment fails, the rest is compensated
      const userCouponId = await sys.grantCoupon(couponId, user);
      const placed = await sys.call("POST", "/orders", {
        token: user.token,
        body: { items: [{ productId: product, quantity: 2 }], userCouponId },
      });
      assert.equal(placed.status, 202);
      const orderId = placed.body.orderId as string;
      const order = await sys.settledOrder(user.token, orderId);
      assert.equal(order.status, "CANCELLED");
      assert.equal(order.cancelReason, "INSUFFICIENT_BALANCE");

      const { page, requests } = await browser.page();
      await page.goto(`${api.url}/ops/orders/${orderId}#token=${adminToken()}`);
      const entry = (type: string) => `tr[data-type="${type}"]`;
      // The page refreshes itself; the compensations arrive after OrderCancelled is consumed.
      await waitFor(
        async () =>
          (await rowOnPage(page, entry("InventoryReleased"))) &&
          (await rowOnPage(page, entry("CouponRestored"))),
        { timeoutMs: 30_000, what: "the compensations on the timeline" },
      );
      const rows = await page.$$eval("tr.entry", (els) =>
        els.map((el) => ({
          type: el.getAttribute("data-type"),
          outcome: el.getAttribute("data-outcome"),
          by: el.getAttribute("data-by"),
          trace: el.querySelector("code")?.textContent ?? "",
        })));
      const of = (type: string) => rows.find((r) => r.type === type);
      assert.deepEqual(of("OrderCreated"), { ...of("OrderCreated")!, outcome: "ok", by: "api" });
      assert.deepEqual(
        [of("PaymentFailed")?.outcome, of("PaymentFailed")?.by],
        ["failed", "payment"],
        "the failing step, and who did it",
      );
      assert.deepEqual([of("OrderCancelled")?.by], ["order-saga"]);
      assert.deepEqual(
        [of("InventoryReleased")?.outcome, of("InventoryReleased")?.by],
        ["compensation", "inventory"],
      );
      assert.deepEqual(
        [of("CouponRestored")?.outcome, of("CouponRestored")?.by],
        ["compensation", "coupon-redeemer"],
      );
      assert.deepEqual(
        [of("step payment recorded")?.outcome, of("step inventory recorded")?.outcome],
        ["failed", "ok"],
      );
      // One trace across every event of the order, shown on each.
      const traces = new Set(rows.filter((r) => !r.type!.startsWith("step ")).map((r) => r.trace));
      assert.equal(traces.size, 1);
      assert.match([...traces][0], /^[0-9a-f]{32}$/);
      assert.equal(
        await page.$eval("[data-order-status]", (el) => el.textContent),
        "CANCELLED (INSUFFICIENT_BALANCE)",
      );
      await browser.screenshot(page, "ops-timeline", { fullPage: true });
      assert.deepEqual(foreignRequests(requests, api.url), []);
      await assertInvariants(sys.sql, sys.scope);
    } finally {
      await browser.close();
      await api.stop();
      await sys.close();
    }
  },
);
