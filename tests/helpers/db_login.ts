/**
 * A test child pointed at the local stack's Postgres through something else (a TCP proxy, a host
 * alias) has a DATABASE_URL that is not the local stack's, so it gets no password from the stack's
 * folder (src/platform/local_stack.ts): these variables give it its roles' own, as a deployment
 * would. Nothing for a child that reaches the stack directly, or that is given passwords already.
 */
import { isLocalDatabase, localDatabasePassword } from "../../src/platform/local_stack.ts";
import { cfg } from "./stack.ts";

/** `DATABASE_PASSWORD` (and, for the API, `OPS_DATABASE_PASSWORD`) for a child with `env`. */
export function childDatabasePasswords(
  env: Record<string, string>,
  role: string,
  opsRole?: string,
): Record<string, string> {
  const url = env.DATABASE_URL;
  if (
    url === undefined || isLocalDatabase(url) || env.DATABASE_PASSWORD !== undefined ||
    !isLocalDatabase(cfg.databaseUrl)
  ) return {};
  const out: Record<string, string> = {};
  const own = localDatabasePassword(role);
  if (own) out.DATABASE_PASSWORD = own;
  const ops = opsRole && localDatabasePassword(opsRole);
  if (ops) out.OPS_DATABASE_PASSWORD = ops;
  return out;
}
