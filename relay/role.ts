/**
 * The relay's database role (migrations/0009_relay_role.sql) and its password.
 *
 * Debezium logs in as `shop_relay`, which may read the outbox and nothing else. Its password is
 * in no file of the repository: where a deployment needs one, RELAY_DATABASE_PASSWORD is given to
 * `deno task setup` (which sets it on the role, below) and to every Kafka Connect worker (whose
 * EnvVarConfigProvider resolves the connector config's placeholder). The local stack trusts
 * loopback and needs none.
 */
import type { Sql } from "../src/platform/db.ts";
import { setRolePassword } from "../src/platform/role_password.ts";

export { scramVerifier } from "../src/platform/role_password.ts";

/** The role the connector logs in as. */
export const RELAY_ROLE = "shop_relay";

/** The environment variable that holds the role's password, on setup and on Connect workers. */
export const RELAY_PASSWORD_VAR = "RELAY_DATABASE_PASSWORD";

/**
 * What the connector config holds instead of the password: Connect resolves it from the worker's
 * environment when it starts the connector and its task, and stores, returns (REST) and writes
 * to `_connect-configs` only this text. `env` is the provider's alias in the worker config
 * (stack/conf/connect.properties, compose.yaml).
 */
export const RELAY_PASSWORD_PLACEHOLDER = `\${env:${RELAY_PASSWORD_VAR}}`;

/**
 * Sets the relay role's password (as its verifier). Run by a user allowed to: PostgreSQL 15
 * wants a superuser to alter a REPLICATION role; where setup's user is not one, a DBA sets it and
 * setup runs without RELAY_DATABASE_PASSWORD.
 */
export async function setRelayPassword(sql: Sql, password: string): Promise<void> {
  await setRolePassword(sql, RELAY_ROLE, password);
}
