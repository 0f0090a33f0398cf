/**
 * `deno task projections:rebuild best-sellers [--hours N] [--follow]`: rebuilds the best-sellers
 * projection from the log (src/best_sellers/rebuild.ts, docs/projections.md). Stop its workers
 * first: it refuses while the group has members. It logs in as the projection itself (its
 * database role and Kafka principal: its own tables, inbox rows and group, nothing else).
 * `--hours`: the window to rebuild (default TOPIC_RETENTION_HOURS, the longest the API answers);
 * `--follow`: afterwards, print the replay's lag until the started workers have caught up.
 * Exit status: 0 done, 64 usage, 75 (EX_TEMPFAIL) the group has members, 1 anything else.
 */
import { parseArgs } from "node:util";
import { config } from "../platform/config.ts";
import { connect, databaseUrlAs } from "../platform/db.ts";
import { kafkaAccess, kafkaClient } from "../platform/kafka.ts";
import { workerPrincipal } from "../kafka_acls.ts";
import {
  BEST_SELLERS_GROUP,
  bestSellers,
  followReplay,
  GroupActiveError,
  rebuildBestSellers,
} from "../best_sellers/mod.ts";

const PROJECTIONS = [BEST_SELLERS_GROUP];
const USAGE = `usage: deno task projections:rebuild ${
  PROJECTIONS.join("|")
} [--hours N] [--follow]`;

let args;
try {
  args = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { hours: { type: "string" }, follow: { type: "boolean", default: false } },
  });
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  Deno.exit(64);
}
const [name, ...extra] = args.positionals;
if (!PROJECTIONS.includes(name) || extra.length > 0) {
  console.error(
    `Cannot rebuild ${JSON.stringify(name ?? "")}: expected one of ${PROJECTIONS}\n${USAGE}`,
  );
  Deno.exit(64);
}
const cfg = config();
const hours = args.values.hours === undefined ? cfg.topicRetentionHours : Number(args.values.hours);
if (!Number.isInteger(hours) || hours < 1) {
  console.error(
    `Cannot rebuild as '--hours' must be a positive integer: current value is ${args.values.hours}`,
  );
  Deno.exit(64);
}
const sql = connect(databaseUrlAs(cfg.databaseUrl, bestSellers.role, cfg.databasePassword), {
  max: 1,
  applicationName: "projections-rebuild",
});
const admin = kafkaClient(kafkaAccess(cfg, workerPrincipal(bestSellers.group)), "rebuild").admin();
let status = 0;
try {
  await admin.connect();
  await rebuildBestSellers({
    sql,
    admin,
    hours,
    retentionHours: cfg.topicRetentionHours,
    // Orders are decided within their deadline; twice that, and at least an hour, of margin.
    leadMs: Math.max(3600_000, 2 * cfg.orderDeadlineMs),
  });
  if (args.values.follow) await followReplay(admin);
} catch (err) {
  console.error(err instanceof GroupActiveError ? err.message : err);
  status = err instanceof GroupActiveError ? 75 : 1;
} finally {
  await admin.disconnect().catch(() => {});
  await sql.end({ timeout: 5 });
}
Deno.exit(status);
