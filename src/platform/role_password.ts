/**
 * Setting a database role's password without the password ever reaching the server: the SCRAM
 * verifier is made here, so no statement log or error message can show the secret.
 */
import type { Sql } from "./db.ts";

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
 * Sets `role`'s password (as its verifier). Needs a user allowed to alter the role (the owner
 * with CREATEROLE; a superuser for a REPLICATION role).
 */
export async function setRolePassword(sql: Sql, role: string, password: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(role)) throw new TypeError(`not a plain role name: ${role}`);
  const verifier = await scramVerifier(password);
  // ALTER ROLE takes no bind parameters; the verifier is base64 and `$:` only, checked here.
  if (!/^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.test(verifier)) {
    throw new Error("unexpected SCRAM verifier shape");
  }
  await sql.unsafe(`alter role ${role} password '${verifier}'`);
}
