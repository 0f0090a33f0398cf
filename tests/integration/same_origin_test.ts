/**
 * Every page the API serves (/docs, /ops, /ops/orders/:id) and every asset they load reference no
 * host but the API's own: attributes in the HTML and url()/@import in the style sheets are
 * relative or data:, our own scripts name no absolute URL, and a Content-Security-Policy tells
 * the browser to refuse any other origin (the vendor bundles are checked at run time by the
 * browser tests, which record every request).
 */
import assert from "node:assert/strict";
import { api } from "../helpers/api.ts";
import { db } from "../helpers/stack.ts";

const PAGES = ["/docs", "/ops", "/ops/orders/01900000-0000-7000-8000-000000000000"];
const ORIGIN = "http://127.0.0.1:8080";
// Our own scripts and styles, not vendor bundles (whose strings name documentation links).
const OWN = new Set(["common.js", "console.js", "timeline.js", "console.css", "init.js"]);

/** URLs a page or style sheet makes the browser load, and whether each stays on our origin. */
function references(kind: "html" | "css", text: string): string[] {
  const found = kind === "html"
    ? [...text.matchAll(/\s(?:src|href|action|srcset|poster|data)\s*=\s*"([^"]*)"/gi)]
    : [...text.matchAll(/url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]/gi)];
  return found.map((m) => m[1] ?? m[2]);
}

const local = (ref: string) =>
  ref.startsWith("data:") || ref.startsWith("#") ||
  (!/^[a-z][a-z0-9+.-]*:/i.test(ref) && !ref.startsWith("//")) ||
  new URL(ref).origin === ORIGIN;

Deno.test("pages served by the API reference no host but its own", async () => {
  const sql = db(1);
  try {
    const { app } = api();
    const assets = new Set<string>();
    for (const path of PAGES) {
      const res = await app.request(`${ORIGIN}${path}`);
      assert.equal(res.status, 200, path);
      const csp = res.headers.get("content-security-policy") ?? "";
      assert.match(csp, /default-src 'self'/, `${path} restricts every fetch to its origin`);
      assert.match(csp, /script-src 'self'(;|$)/, `${path} runs only its own scripts`);
      const html = await res.text();
      assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>\s*\S/i, `${path}: no inline script`);
      const refs = references("html", html);
      assert.ok(refs.length > 0, `${path} references its assets`);
      for (const ref of refs) {
        assert.ok(local(ref), `${path} references ${ref}`);
        if (ref.startsWith("/")) assets.add(ref);
      }
    }
    assert.ok(assets.size >= 8, `assets: ${[...assets]}`);
    for (const asset of assets) {
      const res = await app.request(`${ORIGIN}${asset}`);
      assert.equal(res.status, 200, asset);
      const text = await res.text();
      if (asset.endsWith(".css")) {
        for (const ref of references("css", text)) assert.ok(local(ref), `${asset}: ${ref}`);
      }
      const name = asset.split("/").pop()!;
      if (OWN.has(name)) {
        assert.doesNotMatch(
          text,
          /\b(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i,
          `${asset} names a host`,
        );
      }
    }
  } finally {
    await sql.end();
  }
});
