/**
 * GET /docs in a real browser with the API as a real process: Swagger UI renders the operations
 * from /openapi.json with every request staying on the API's own origin (no CDN), which is what
 * makes the page work on a machine without internet.
 */
import assert from "node:assert/strict";
import { real } from "../helpers/stack.ts";
import { startApiProcess } from "../helpers/api_process.ts";
import { foreignRequests, launchBrowser } from "../helpers/browser.ts";

Deno.test("browser: /docs renders the operations, no request leaves the API", real, async () => {
  const api = await startApiProcess();
  const browser = await launchBrowser();
  try {
    const { page, requests } = await browser.page();
    await page.goto(`${api.url}/docs`, { waitUntil: "networkidle0" });
    // Swagger UI names each operation block operations-<tag>-<operationId>.
    const block = await page.waitForSelector("#operations-orders-placeOrder", {
      visible: true,
      timeout: 20_000,
    });
    const text = await block!.evaluate((el) => el.textContent ?? "");
    assert.match(text, /POST\s*\/orders/);
    const blocks = await page.$$eval(".opblock", (els) => els.length);
    assert.equal(blocks, 13, "every operation of the document is rendered");
    await browser.screenshot(page, "docs", { fullPage: true });
    assert.ok(requests.some((u) => u.endsWith("/openapi.json")), "the document was fetched");
    assert.deepEqual(foreignRequests(requests, api.url), []);
  } finally {
    await browser.close();
    await api.stop();
  }
});
