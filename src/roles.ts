/**
 * The database roles processes log in as (migrations/0010_service_roles.sql): the API's routes,
 * its ops console, and each consumer service's own. The owner (DATABASE_URL's user) runs setup
 * only; the relay's role is relay/role.ts'.
 */
import { SERVICES } from "./workers.ts";

export const API_ROLE = "shop_api";
export const OPS_ROLE = "shop_ops";

/** Every role a process of the system logs in as: the API's, the console's, each service's. */
export const SERVICE_ROLES = [API_ROLE, OPS_ROLE, ...Object.values(SERVICES).map((s) => s.role)];
