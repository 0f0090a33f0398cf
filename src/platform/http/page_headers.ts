import type { Context } from "hono";
/**
 * Headers of the HTML pages the API serves (/docs, /ops): the browser may load scripts, styles,
 * images and data only from the API's own origin, so a page can never depend on, or leak to,
 * another host. Inline styles and data: images are allowed for Swagger UI and uPlot.
 */
export const PAGE_SECURITY_HEADERS = {
  "content-security-policy": [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
  ].join("; "),
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/** An HTML page in standards mode (doctype first) with the headers above. */
export function htmlPage(c: Context, page: unknown): Response {
  return c.html(`<!DOCTYPE html>${String(page)}`, 200, PAGE_SECURITY_HEADERS);
}
