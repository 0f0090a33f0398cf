/**
 * `deno task acls`: makes the cluster's Kafka ACLs the table of src/kafka_acls.ts (idempotent), as
 * the admin principal. compose runs it before Connect starts (Connect needs its group's and storage
 * topics' grants at its first start, and setup runs after Connect); setup applies them again.
 */
import { config } from "../platform/config.ts";
import { logger, setLogLevel } from "../platform/log.ts";
import { applyAcls } from "../system_topics.ts";

setLogLevel(config().logLevel);
try {
  await applyAcls();
} catch (err) {
  logger("acls").error("applying the Kafka ACLs failed", { error: err });
  Deno.exitCode = 1;
}
