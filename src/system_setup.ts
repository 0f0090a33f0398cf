/**
 * `setup()`, run by `deno task setup` (src/main/setup.ts) and `deno task dev`: everything between
 * "the stack is up" and "the system may run", in order: migrate (creates the outbox and its
 * publication and the roles), set the service roles' passwords if given, create pg_stat_statements
 * where the server loads it (src/platform/statement_stats.ts), create topics, make the
 * Kafka ACLs the table's (src/kafka_acls.ts), register
 * the relay and wait for its slot to be active. Writes made before the slot exists would never be
 * relayed, so the API and workers start only after this.
 */
import { registerConnector } from "../relay/register.ts";
import { type Config, config } from "./platform/config.ts";
import { connect } from "./platform/db.ts";
import { logger } from "./platform/log.ts";
import { migrate } from "./platform/migrations.ts";
import { setRolePassword } from "./platform/role_password.ts";
import { enableStatementStats } from "./platform/statement_stats.ts";
import { applyAcls, createSystemTopics } from "./system_topics.ts";
import { SERVICE_ROLES } from "./roles.ts";
import { isLocalDatabase, localDatabasePassword } from "./platform/local_stack.ts";

/** Every role a service process logs in as (migrations/0010_service_roles.sql). */
export { SERVICE_ROLES };

/** A SERVICE_DATABASE_PASSWORDS entry that names no service role (a typo, or another role). */
export class ServicePasswordError extends Error {
  override name = "ServicePasswordError";
}

/**
 * The password setup sets on each service role: SERVICE_DATABASE_PASSWORDS' own for the roles it
 * names, SERVICE_DATABASE_PASSWORD for the others, else `fallback`'s (the local stack's own); a
 * role with none is left as it is. A role
 * named there that is no service role is refused (setup's owner could otherwise set the password
 * of any role it may alter, the relay's or its own), naming the role, never the password.
 */
export function servicePasswords(
  cfg: Pick<Config, "serviceDatabasePassword" | "serviceDatabasePasswords">,
  fallback: (role: string) => string | undefined = () => undefined,
): [role: string, password: string][] {
  const unknown = Object.keys(cfg.serviceDatabasePasswords).filter((r) =>
    !SERVICE_ROLES.includes(r)
  );
  if (unknown.length > 0) {
    throw new ServicePasswordError(
      `SERVICE_DATABASE_PASSWORDS names ${unknown.join(", ")}, which ${
        unknown.length === 1 ? "is" : "are"
      } no service role (expected some of ${SERVICE_ROLES.join(", ")})`,
    );
  }
  return SERVICE_ROLES.flatMap((role): [string, string][] => {
    const password = cfg.serviceDatabasePasswords[role] ?? cfg.serviceDatabasePassword ??
      fallback(role);
    return password === undefined ? [] : [[role, password]];
  });
}

/** Runs migrations, topic creation and relay registration against the configured stack. */
export async function setup(): Promise<void> {
  const cfg = config();
  const log = logger("setup");
  // Checked before anything changes: a typo in a role name stops setup at once.
  // The local stack asks every role for a password: its own, from the stack's folder.
  const passwords = servicePasswords(
    cfg,
    isLocalDatabase(cfg.databaseUrl) ? localDatabasePassword : undefined,
  );
  const sql = connect(cfg.databaseUrl, { max: 1, applicationName: "setup" });
  try {
    const r = await migrate(sql, undefined, (name, ms) => {
      log.info("migration applied", { migration: name, ms: Math.round(ms) });
    });
    log.info("database is up to date", { applied: r.applied.length });
    // One per role (SERVICE_DATABASE_PASSWORDS), one secret for every role
    // (SERVICE_DATABASE_PASSWORD), or the local stack's. Logged: the roles, never a password.
    for (const [role, password] of passwords) await setRolePassword(sql, role, password);
    if (passwords.length > 0) {
      log.info("service role passwords set", { roles: passwords.map(([role]) => role) });
    }
    if (await enableStatementStats(sql)) log.info("pg_stat_statements is enabled");
  } finally {
    await sql.end();
  }
  await createSystemTopics();
  await applyAcls();
  await registerConnector(cfg);
}
