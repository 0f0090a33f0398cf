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

const encoder = new TextEncoder();
const b64 = (bytes: ArrayBuffer | Uint8Array) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)));

async function hmac(key: ArrayBuffer, text: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return await crypto.subtle.sign("HMAC", k, encoder.encode(text));
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802, 7677), made here as
 * libpq's PQencryptPasswordConn and psql's \password make it: the password itself never reaches
 * the server, so no statement log or error message can show it. NFKC stands for SASLprep, which
 * is the identity on printable ASCII.
 */
export async function scramVerifier(
  password: string,
  salt: Uint8Array<ArrayBuffer> = crypto.getRandomValues(new Uint8Array(16)),
  iterations = 4096,
): Promise<string> {
  const base = await crypto.subtle.importKey(
    "raw",
    encoder.encode(password.normalize("NFKC")),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const salted = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    base,
    256,
  );
  const storedKey = await crypto.subtle.digest("SHA-256", await hmac(salted, "Client Key"));
  const serverKey = await hmac(salted, "Server Key");
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

/**
 * Sets the relay role's password (as its verifier). Run by a user allowed to: PostgreSQL 15
 * wants a superuser to alter a REPLICATION role; where setup's user is not one, a DBA sets it and
 * setup runs without RELAY_DATABASE_PASSWORD.
 */
export async function setRelayPassword(sql: Sql, password: string): Promise<void> {
  const verifier = await scramVerifier(password);
  // ALTER ROLE takes no bind parameters; the verifier is base64 and `$:` only, checked here.
  if (!/^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.test(verifier)) {
    throw new Error("unexpected SCRAM verifier shape");
  }
  await sql.unsafe(`alter role ${RELAY_ROLE} password '${verifier}'`);
}
