/**
 * `setup()`, run by `deno task setup` (src/main/setup.ts) and `deno task dev`: everything between
 * "the stack is up" and "the system may run", in order: migrate (creates the outbox and its
 * publication), create topics, register the relay and wait for its slot to be active. Writes made before the slot exists would never be relayed, so the
 * API and workers start only after this.
 */
import { registerConnector } from "../relay/register.ts";
import { config } from "./platform/config.ts";
import { connect } from "./platform/db.ts";
import { logger } from "./platform/log.ts";
import { migrate } from "./platform/migrations.ts";
import { createSystemTopics } from "./system_topics.ts";

/** Runs migrations, topic creation and relay registration against the configured stack. */
export async function setup(): Promise<void> {
  const cfg = config();
  const log = logger("setup");
  const sql = connect(cfg.databaseUrl, { max: 1, applicationName: "setup" });
  try {
    const r = await migrate(sql, undefined, (name, ms) => {
      log.info("migration applied", { migration: name, ms: Math.round(ms) });
    });
    log.info("database is up to date", { applied: r.applied.length });
  } finally {
    await sql.end();
  }
  await createSystemTopics();
  await registerConnector(cfg);
}
