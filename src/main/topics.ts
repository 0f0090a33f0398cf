/** `deno task topics`: creates every system topic and its DLQ (idempotent). */
import { config } from "../platform/config.ts";
import { setLogLevel } from "../platform/log.ts";
import { createSystemTopics } from "../system_topics.ts";

setLogLevel(config().logLevel);
await createSystemTopics();
