/**
 * `setup()`, run by `deno task setup` (src/main/setup.ts) and `deno task dev`: everything between
 * "the stack is up" and "the system may run", in order: migrate (creates the outbox and its
 * publication and the roles), set the service roles' password if given, create topics, register
 * the relay and wait for its slot to be active. Writes made before the slot exists would never be
 * relayed, so the API and workers start only after this.
 */
import { registerConnector } from "../relay/register.ts";
import { config } from "./platform/config.ts";
import { connect } from "./platform/db.ts";
import { logger } from "./platform/log.ts";
import { migrate } from "./platform/migrations.ts";
import { setRolePassword } from "./platform/role_password.ts";
import { createSystemTopics } from "./system_topics.ts";
import { API_ROLE, OPS_ROLE } from "./app.ts";
import { SERVICES } from "./workers.ts";

/** Every role a service process logs in as (migrations/0010_service_roles.sql). */
const SERVICE_ROLES = [API_ROLE, OPS_ROLE, ...Object.values(SERVICES).map((s) => s.role)];

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
    // Where logins need passwords (compose), one secret for every service role; a deployment
    // that wants one per role sets them itself (docs/configuration.md).
    if (cfg.serviceDatabasePassword) {
      for (const role of SERVICE_ROLES) {
        await setRolePassword(sql, role, cfg.serviceDatabasePassword);
      }
      log.info("service role passwords set", { roles: SERVICE_ROLES.length });
    }
  } finally {
    await sql.end();
  }
  await createSystemTopics();
  await registerConnector(cfg);
}
