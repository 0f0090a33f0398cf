/**
 * The console's static files: its own script and style, and uPlot from its npm package, embedded
 * as text at load (Deno's text imports work with nodeModulesDir "none"), so the pages need no
 * host but the API's and no build step. Long-cached: the package version pins the content.
 */
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import commonJs from "./client/common.js" with { type: "text" };
import consoleJs from "./client/console.js" with { type: "text" };
import timelineJs from "./client/timeline.js" with { type: "text" };
import consoleCss from "./client/console.css" with { type: "text" };

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

/**
 * By file name. A Map, not an object: the name comes from the URL, and an object lookup would also
 * find inherited properties (`toString`, `constructor`, `__proto__`), which once answered 500.
 */
export const OPS_ASSETS: ReadonlyMap<string, { body: string; type: string }> = new Map([
  ["uPlot.iife.min.js", { body: uplotJs, type: JS }],
  ["uPlot.min.css", { body: uplotCss, type: CSS }],
  ["common.js", { body: commonJs, type: JS }],
  ["console.js", { body: consoleJs, type: JS }],
  ["timeline.js", { body: timelineJs, type: JS }],
  ["console.css", { body: consoleCss, type: CSS }],
]);
