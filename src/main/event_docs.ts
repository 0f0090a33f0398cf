/** `deno task docs:events`: writes docs/events.md from the catalog (see src/events/docs.ts). */
import { catalogMarkdown } from "../events/docs.ts";
import { SERVICES } from "../workers.ts";

await Deno.writeTextFile(
  new URL("../../docs/events.md", import.meta.url),
  catalogMarkdown(Object.values(SERVICES)),
);
