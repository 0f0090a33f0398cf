/** `deno task migrate`: applies pending migrations to DATABASE_URL. */
import { config } from "../platform/config.ts";
import { connect } from "../platform/db.ts";
import { logger, setLogLevel } from "../platform/log.ts";
import { migrate, MigrationError } from "../platform/migrations.ts";

const cfg = config();
setLogLevel(cfg.logLevel);
const log = logger("migrate");
const sql = connect(cfg.databaseUrl, { max: 1, applicationName: "migrate" });
try {
  const result = await migrate(sql, undefined, (name, ms) => {
    log.info("migration applied", { migration: name, ms: Math.round(ms) });
  });
  log.info("database is up to date", {
    applied: result.applied.length,
    alreadyApplied: result.alreadyApplied,
  });
} catch (err) {
  log.error(err instanceof MigrationError ? err.message : "migration failed", { error: err });
  Deno.exitCode = 1;
} finally {
  await sql.end();
}
