/**
 * The pages' assets are looked up by their own names only: a name that is a property every object
 * inherits (`toString`, `constructor`, `__proto__`, `hasOwnProperty`) is 404 problem+json like any
 * unknown name, and logs no error. An object lookup found those properties and answered 500 with
 * an error-level stack trace.
 */
import assert from "node:assert/strict";
import type { Fields, Logger } from "../../src/platform/log.ts";
import { api } from "../helpers/api.ts";

/** A logger that keeps the level and message of every line. */
function recordingLog(lines: { level: string; msg: string }[]): Logger {
  const log: Logger = {
    debug: (msg: string, _f?: Fields) => lines.push({ level: "debug", msg }),
    info: (msg: string, _f?: Fields) => lines.push({ level: "info", msg }),
    warn: (msg: string, _f?: Fields) => lines.push({ level: "warn", msg }),
    error: (msg: string, _f?: Fields) => lines.push({ level: "error", msg }),
    child: () => log,
  };
  return log;
}

const INHERITED = ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf"];

Deno.test("page assets: inherited property names are 404, never 500, and log no error", async () => {
  const lines: { level: string; msg: string }[] = [];
  const { call } = api({ log: recordingLog(lines) });
  for (const prefix of ["/docs/assets/", "/ops/assets/"]) {
    for (const name of INHERITED) {
      const res = await call("GET", `${prefix}${name}`);
      assert.equal(res.status, 404, `${prefix}${name}`);
      assert.equal(res.headers.get("content-type"), "application/problem+json", `${prefix}${name}`);
      assert.equal(res.body.status, 404);
    }
    // The control: a real asset of the same route is served.
    const real = prefix === "/docs/assets/" ? "init.js" : "console.js";
    assert.equal((await call("GET", `${prefix}${real}`)).status, 200, `${prefix}${real}`);
  }
  assert.deepEqual(lines.filter((l) => l.level === "error"), []);
});
