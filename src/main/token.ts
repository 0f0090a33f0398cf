/**
 * `deno task token <sub> [--admin]`: prints a token signed with AUTH_JWT_SECRET, valid for 24 hours
 * or AUTH_JWT_MAX_LIFETIME_S if shorter, carrying AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE when set
 * (the API then requires them).
 */
import { issueToken } from "../platform/http/auth.ts";
import { config } from "../platform/config.ts";
import { STACK_DIR } from "../../stack/components.ts";

const [sub, ...flags] = Deno.args;
if (!sub || flags.some((f) => f !== "--admin")) {
  console.error("usage: deno task token <sub> [--admin]");
  Deno.exit(64);
}
// Without AUTH_JWT_SECRET, use the secret `deno task dev` generated for the local stack.
const cfg = config();
const secret = cfg.authJwtSecret ??
  (await Deno.readTextFile(`${STACK_DIR}/dev-jwt-secret`).catch(() => undefined))?.trim();
if (!secret) {
  console.error("AUTH_JWT_SECRET is not set and no local dev secret exists (run deno task dev)");
  Deno.exit(78);
}
console.log(issueToken(secret, sub, {
  admin: flags.includes("--admin"),
  ttlSeconds: Math.min(24 * 3600, cfg.authJwtMaxLifetimeS),
  issuer: cfg.authJwtIssuer,
  audience: cfg.authJwtAudience,
}));
