/**
 * Headless Chromium (Debian's /usr/bin/chromium, installed by .ci/run) driven by puppeteer-core,
 * which never downloads a browser of its own. Every request a page makes is recorded, so a test
 * can assert that nothing left the API's origin, and screenshots go to results/.
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";

export const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
const RESULTS = new URL("../../results/", import.meta.url).pathname;

export interface TestBrowser {
  browser: Browser;
  /** A new page; `requests` collects the URL of every request it makes. */
  page(): Promise<{ page: Page; requests: string[] }>;
  /** Saves a screenshot of `page` as results/<name>.png (the viewport unless `fullPage`). */
  screenshot(page: Page, name: string, opts?: { fullPage?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: apt-get install -y chromium (.ci/run does it)`,
    );
  }
  const userDataDir = await Deno.makeTempDir({ prefix: "shop-chromium-" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    userDataDir,
    headless: true,
    args: [
      "--no-sandbox", // we run as root in CI
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking", // no update, safe-browsing or metrics calls of its own
      "--disable-component-update",
      "--disable-sync",
      "--window-size=1400,1000",
    ],
    defaultViewport: { width: 1400, height: 1000 },
  });
  return {
    browser,
    async page() {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on("request", (r) => void requests.push(r.url()));
      return { page, requests };
    },
    async screenshot(page, name, opts = {}) {
      await Deno.mkdir(RESULTS, { recursive: true });
      const path = `${RESULTS}${name}.png`;
      await page.screenshot({ path: path as `${string}.png`, fullPage: opts.fullPage ?? false });
      return path;
    },
    async close() {
      await browser.close();
      await Deno.remove(userDataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** The requests that went to a host other than `origin` (data: URLs stay in the page). */
export function foreignRequests(requests: string[], origin: string): string[] {
  return requests.filter((u) => !u.startsWith("data:") && new URL(u).origin !== origin);
}
