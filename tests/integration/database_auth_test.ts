/**
 * The local stack's Postgres asks every role for its password (scram-sha-256, no `trust`): a
 * local user who reaches the port is neither the owner nor a service without the stack's password
 * file for that role (stack/components.ts, src/platform/local_stack.ts). Against a database that
 * is not the local stack's (compose) these tests are skipped: there the deployment's passwords
 * apply, which compose_test and the external end-to-end run cover.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { isLocalDatabase, localDatabasePassword } from "../../src/platform/local_stack.ts";
import { databaseUrlAs } from "../../src/platform/db.ts";
import { RELAY_ROLE } from "../../relay/role.ts";
import { SERVICE_ROLES } from "../../src/roles.ts";
import { cfg, real } from "../helpers/stack.ts";

const local = isLocalDatabase(cfg.databaseUrl) && localDatabasePassword("shop") !== undefined;
if (!local) console.log("database auth: skipped, the database is not the local stack's");

/** The server's answer to a login as `role` with `password` ("ok" or its error code). */
async function login(role: string, password: string): Promise<string> {
  const url = new URL(databaseUrlAs(cfg.databaseUrl, role, password));
  const sql = postgres(url.toString(), { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
    return "ok";
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

Deno.test(
  "database auth: every role gives its own password; none, a wrong one or another role's is refused",
  { ...real, ignore: !local },
  async () => {
    for (const role of ["shop", ...SERVICE_ROLES, RELAY_ROLE]) {
      const own = localDatabasePassword(role);
      assert.ok(own, `${role} has a password in the stack's folder`);
      // 28P01: invalid_password (what scram-sha-256 answers; trust would have said "ok").
      assert.equal(await login(role, ""), "28P01", `${role} without a password`);
      assert.equal(await login(role, `${own}x`), "28P01", `${role} with a wrong password`);
    }
    // The owner's password is the owner's only; a service's is its own only.
    const owner = localDatabasePassword("shop")!;
    assert.equal(await login("shop_payment", owner), "28P01", "a service with the owner's");
    assert.equal(
      await login("shop", localDatabasePassword("shop_payment")!),
      "28P01",
      "the owner with a service's",
    );
    // Each service logs in with its own (RELAY_ROLE is a replication role and logs in too).
    for (const role of [...SERVICE_ROLES, RELAY_ROLE]) {
      assert.equal(await login(role, localDatabasePassword(role)!), "ok", role);
    }
  },
);
