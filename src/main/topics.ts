/** `deno task topics`: creates every system topic and its DLQ, applies the ACL table (idempotent). */
import { config } from "../platform/config.ts";
import { setLogLevel } from "../platform/log.ts";
import { applyAcls, createSystemTopics } from "../system_topics.ts";

setLogLevel(config().logLevel);
await createSystemTopics();
await applyAcls();
