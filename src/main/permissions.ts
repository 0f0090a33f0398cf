/**
 * `deno run --allow-env src/main/permissions.ts api|worker [name]`: prints the `deno run` flags
 * the process runs with (src/platform/permissions.ts), computed from this environment's
 * configuration. `deno task api` and `deno task worker` start the process with them. A task cannot
 * pass its argument into the command that computes the flags, so without a name a worker may
 * listen on any worker's ops port (or WORKER_PORT), which is the same set of addresses, and read
 * any service role's local database password (never the owner's).
 */
import { config } from "../platform/config.ts";
import { permissionFlags } from "../platform/permissions.ts";
import { SERVICES, WORKER_PORTS, WORKERS } from "../workers.ts";
import { API_ROLE, OPS_ROLE } from "../roles.ts";

const [kind, name] = Deno.args;
const cfg = config();
if (kind === "api") {
  console.log(
    permissionFlags("api", cfg, [cfg.port, cfg.apiOpsPort], [API_ROLE, OPS_ROLE]).join(" "),
  );
} else if (kind === "worker" && (name === undefined || WORKERS.includes(name))) {
  const ports = cfg.workerPort !== undefined
    ? [cfg.workerPort]
    : name
    ? [WORKER_PORTS[name]]
    : WORKERS.map((w) => WORKER_PORTS[w]);
  // Its service's role; without a name, any service's (never the owner's nor the relay's).
  const roles = (name ? [name] : WORKERS).map((w) => SERVICES[w].role);
  console.log(permissionFlags("worker", cfg, ports, roles).join(" "));
} else {
  console.error(`usage: permissions.ts api | worker [${WORKERS.join("|")}]`);
  Deno.exit(64);
}
