/** `deno task token <sub> [--admin]`: prints a 24-hour token signed with AUTH_JWT_SECRET. */
import { issueToken } from "../platform/http/auth.ts";
import { config } from "../platform/config.ts";
import { STACK_DIR } from "../../stack/components.ts";

const [sub, ...flags] = Deno.args;
if (!sub || flags.some((f) => f !== "--admin")) {
  console.error("usage: deno task token <sub> [--admin]");
  Deno.exit(64);
}
// Without AUTH_JWT_SECRET, use the secret `deno task dev` generated for the local stack.
const secret = config().authJwtSecret ??
  (await Deno.readTextFile(`${STACK_DIR}/dev-jwt-secret`).catch(() => undefined))?.trim();
if (!secret) {
  console.error("AUTH_JWT_SECRET is not set and no local dev secret exists (run deno task dev)");
  Deno.exit(78);
}
console.log(await issueToken(secret, sub, { admin: flags.includes("--admin") }));
