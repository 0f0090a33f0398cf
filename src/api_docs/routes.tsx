/**
 * GET /docs: Swagger UI for /openapi.json with every asset served by the API itself from the
 * swagger-ui-dist npm package (embedded as text at load), so the page renders on a machine
 * without internet. The online validator badge is off: it would call a public host.
 */
import { Hono } from "hono";
import css from "swagger-ui-dist/swagger-ui.css" with { type: "text" };
import bundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "text" };
import init from "./init.js" with { type: "text" };
import type { AppEnv } from "../platform/http/env.ts";
import { HttpProblem } from "../platform/http/problem.ts";
import { htmlPage } from "../platform/http/page_headers.ts";

// A Map, not an object: the name comes from the URL, and an object lookup would also find
// inherited properties (`toString`, `constructor`, `__proto__`), which once answered 500.
const ASSETS = new Map<string, { body: string; type: string }>([
  ["swagger-ui.css", { body: css, type: "text/css; charset=utf-8" }],
  ["swagger-ui-bundle.js", { body: bundle, type: "text/javascript; charset=utf-8" }],
  ["init.js", { body: init, type: "text/javascript; charset=utf-8" }],
]);

function DocsPage() {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>shop API</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="/docs/assets/swagger-ui.css" />
      </head>
      <body>
        <div id="swagger-ui"></div>
        <script src="/docs/assets/swagger-ui-bundle.js"></script>
        <script src="/docs/assets/init.js"></script>
      </body>
    </html>
  );
}

export function apiDocsRoutes() {
  const app = new Hono<AppEnv>();
  app.get("/docs", (c) => htmlPage(c, <DocsPage />));
  app.get("/docs/assets/:name", (c) => {
    const asset = ASSETS.get(c.req.param("name"));
    if (!asset) throw new HttpProblem(404, "No such asset");
    return c.body(asset.body, 200, {
      "content-type": asset.type,
      "cache-control": "public, max-age=300",
    });
  });
  return app;
}
