import assert from "node:assert/strict";
import { catalogMarkdown } from "../../src/events/docs.ts";
import { SERVICES } from "../../src/workers.ts";

Deno.test("docs: docs/events.md is the catalog as generated (run deno task docs:events)", async () => {
  const committed = await Deno.readTextFile(new URL("../../docs/events.md", import.meta.url));
  const generated = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "md", "-"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = generated.stdin.getWriter();
  await writer.write(new TextEncoder().encode(catalogMarkdown(Object.values(SERVICES))));
  await writer.close();
  const out = new TextDecoder().decode((await generated.output()).stdout);
  assert.equal(committed, out);
});
