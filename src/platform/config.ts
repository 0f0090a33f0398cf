/**
 * The process configuration: every variable of the ARCHITECTURE table, parsed with zod once.
 * A bad value stops the process with a message naming the variable, the value and what is allowed.
 */
import { z } from "zod";
import {
  type LocalStack,
  localStack,
  PORT_OFFSET,
  STACK_PROFILES,
  stackProfile,
} from "./local_stack.ts";

const port = z.coerce.number().int().min(1).max(65535);
const anyPort = z.coerce.number().int().min(0).max(65535);
const brokerList = z.string().transform((s, ctx) => {
  const brokers = s.split(",").map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0 || brokers.some((b) => !/^[^\s:]+:\d{1,5}$/.test(b))) {
    ctx.addIssue({ code: "custom", message: "not a host:port list" });
    return z.NEVER;
  }
  return brokers;
});
const url = (protocols: string[]) =>
  z.string().refine((s) => {
    try {
      return protocols.includes(new URL(s).protocol);
    } catch {
      return false;
    }
  });

/**
 * Each variable: its schema, a default (undefined: optional; a function: from the local stack of
 * the STACK_PROFILE in effect), what is allowed, and whether secret.
 */
const VARIABLES = {
  PORT: { schema: port, default: "8080", allowed: "an integer from 1 to 65535" },
  DATABASE_URL: {
    schema: url(["postgres:", "postgresql:"]),
    default: (l: LocalStack) => l.databaseUrl,
    allowed: "a postgres:// or postgresql:// URL",
  },
  DATABASE_PASSWORD: {
    schema: z.string().min(1).optional(),
    default: undefined,
    allowed: "the password of this process's own database role",
    secret: true,
  },
  OPS_DATABASE_PASSWORD: {
    schema: z.string().min(1).optional(),
    default: undefined,
    allowed: "the password of the ops console's database role (shop_ops)",
    secret: true,
  },
  SERVICE_DATABASE_PASSWORD: {
    schema: z.string().min(1).optional(),
    default: undefined,
    allowed: "a password `deno task setup` sets on every service role (compose's convenience)",
    secret: true,
  },
  SERVICE_DATABASE_PASSWORDS: {
    schema: z.string().optional().transform((s, ctx) => {
      const out: Record<string, string> = {};
      for (const pair of (s ?? "").split(",").filter((p) => p.trim() !== "")) {
        // The role is up to the first `=`; the password is the rest, as given (no trimming).
        const m = /^\s*([a-z_][a-z0-9_]*)=(.+)$/.exec(pair);
        if (!m || m[1] in out) {
          // Never the pair itself: it holds a password.
          ctx.addIssue({ code: "custom", message: "not a list of distinct role=password" });
          return z.NEVER;
        }
        out[m[1]] = m[2];
      }
      return out;
    }),
    default: undefined,
    allowed: "a comma-separated list of <role>=<password>, each role once (passwords without " +
      "commas): `deno task setup` sets each on its role",
    secret: true,
  },
  RELAY_DATABASE_URL: {
    schema: url(["postgres:", "postgresql:"]).optional(),
    default: undefined,
    allowed: "a postgres:// or postgresql:// URL (the database as Kafka Connect reaches it)",
  },
  KAFKA_BROKERS: {
    schema: brokerList,
    default: (l: LocalStack) => l.kafkaBrokers,
    allowed: "a comma-separated list of host:port",
  },
  KAFKA_USERNAME: {
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional(),
    default: undefined,
    allowed: "this process's Kafka principal (SCRAM-SHA-512 user): 1-64 of [A-Za-z0-9._-]",
  },
  KAFKA_PASSWORD: {
    schema: z.string().min(1).optional(),
    default: undefined,
    allowed: "the password of KAFKA_USERNAME",
    secret: true,
  },
  KAFKA_CONNECT_URL: {
    schema: url(["http:", "https:"]),
    default: (l: LocalStack) => l.connectUrl,
    allowed: "an http:// or https:// URL",
  },
  AUTH_JWT_SECRET: {
    schema: z.string().min(32).optional(),
    default: undefined,
    allowed: "a string of at least 32 characters",
    secret: true,
  },
  AUTH_JWT_MAX_LIFETIME_S: {
    schema: z.coerce.number().int().min(60).max(31_536_000),
    default: "86400",
    allowed: "an integer from 60 to 31536000 (seconds a token may live, exp - iat)",
  },
  AUTH_JWT_ISSUER: {
    schema: z.string().min(1).max(255).optional(),
    default: undefined,
    allowed: "1-255 characters (the iss every token must carry)",
  },
  AUTH_JWT_AUDIENCE: {
    schema: z.string().min(1).max(255).optional(),
    default: undefined,
    allowed: "1-255 characters (the aud every token must carry)",
  },
  TOPIC_PARTITIONS: {
    schema: z.coerce.number().int().min(1).max(1000),
    default: "4",
    allowed: "an integer from 1 to 1000",
  },
  TOPIC_REPLICATION_FACTOR: {
    schema: z.coerce.number().int().min(1).max(32),
    default: (l: LocalStack) => String(l.topicReplicationFactor),
    allowed: "an integer from 1 to 32",
  },
  API_OPS_PORT: {
    schema: anyPort,
    // Beside the workers' 9101-9106, shifted by STACK_PORT_OFFSET like the stack's ports.
    default: String(9100 + PORT_OFFSET),
    allowed: "an integer from 0 to 65535 (0: any free port)",
  },
  WORKER_PORT: {
    schema: anyPort.optional(),
    default: undefined,
    allowed: "an integer from 0 to 65535 (0: any free port)",
  },
  WORKER_INSTANCE: {
    schema: z.coerce.number().int().min(0).max(999).optional(),
    default: undefined,
    allowed: "an integer from 0 to 999 (this replica's stable index in its consumer group)",
  },
  TOPIC_RETENTION_HOURS: {
    schema: z.coerce.number().int().min(1).max(87600),
    default: "168",
    allowed: "an integer from 1 to 87600 (hours Kafka keeps the system's records: the brokers' " +
      "log.retention.hours)",
  },
  INBOX_RETENTION_HOURS: {
    schema: z.coerce.number().int().min(1).max(87600),
    default: "336",
    allowed: "an integer from 1 to 87600 (hours; keep it above the topics' retention)",
  },
  OUTBOX_RETENTION_HOURS: {
    schema: z.coerce.number().int().min(1).max(87600),
    default: "24",
    allowed: "an integer from 1 to 87600 (hours)",
  },
  ORDER_DEADLINE_MS: {
    schema: z.coerce.number().int().min(100).max(86_400_000),
    default: "30000",
    allowed: "an integer from 100 to 86400000 (ms an order may stay PENDING)",
  },
  COUPON_REQUEST_DEADLINE_MS: {
    schema: z.coerce.number().int().min(100).max(86_400_000),
    default: "60000",
    allowed: "an integer from 100 to 86400000 (ms a passed-over coupon request may stay PENDING)",
  },
  WALLET_MAX_BALANCE: {
    schema: z.coerce.number().int().min(1).max(1_000_000_000_000_000),
    default: "1000000000000",
    allowed: "an integer from 1 to 10^15 (the most a wallet may hold after a charge)",
  },
  WORKER_OPS_URLS: {
    schema: z.string().optional().transform((s, ctx) => {
      const out: Record<string, string> = {};
      for (const pair of (s ?? "").split(",").map((p) => p.trim()).filter(Boolean)) {
        const m = /^([a-z][a-z0-9-]*)=(https?:\/\/\S+)$/.exec(pair);
        if (!m) {
          ctx.addIssue({ code: "custom", message: "not a list of name=url" });
          return z.NEVER;
        }
        out[m[1]] = m[2].replace(/\/+$/, "");
      }
      return out;
    }),
    default: undefined,
    allowed: "a comma-separated list of <worker>=<http URL of its ops port>",
  },
  STACK_PROFILE: {
    schema: z.enum(STACK_PROFILES as ["single", "cluster"]),
    default: "single",
    allowed: `one of ${STACK_PROFILES.join(", ")} (the local stack the defaults point at)`,
  },
  LOG_LEVEL: {
    schema: z.enum(["debug", "info", "warn", "error"]),
    default: "info",
    allowed: "one of debug, info, warn, error",
  },
} as const;

/** Every variable the configuration reads: a process needs permission to read these only. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(VARIABLES);

type Variables = typeof VARIABLES;
type Parsed = { [K in keyof Variables]: z.output<Variables[K]["schema"]> };

export type Config = {
  port: number;
  /**
   * Where the database is. Its user is the owner's, used by the owner's tasks (migrate, setup,
   * dlq); every service process logs in as its own role instead (`databaseUrlAs`).
   */
  databaseUrl: string;
  /** This process's role's password (else DATABASE_URL's). */
  databasePassword: string | undefined;
  /** The ops console's role's password (else databasePassword, else DATABASE_URL's). */
  opsDatabasePassword: string | undefined;
  /** Set by `deno task setup` on every service role when given (one password for all). */
  serviceDatabasePassword: string | undefined;
  /**
   * Set by `deno task setup` on the roles named, one password per role (a role named here does
   * not get serviceDatabasePassword); empty when unset.
   */
  serviceDatabasePasswords: Record<string, string>;
  /** The database as Kafka Connect reaches it, when that differs from DATABASE_URL. */
  relayDatabaseUrl: string | undefined;
  kafkaBrokers: string[];
  /**
   * This process's Kafka principal and its password (SASL/SCRAM-SHA-512). Unset: the local
   * stack's password of the process's own principal (src/platform/kafka.ts `kafkaAccess`).
   */
  kafkaUsername: string | undefined;
  kafkaPassword: string | undefined;
  kafkaConnectUrl: string;
  authJwtSecret: string | undefined;
  /** The longest lifetime (`exp - iat`, seconds) the API accepts in a token. */
  authJwtMaxLifetimeS: number;
  /** The `iss` the API requires in a token; undefined: not checked. */
  authJwtIssuer: string | undefined;
  /** The `aud` the API requires in a token; undefined: not checked. */
  authJwtAudience: string | undefined;
  topicPartitions: number;
  topicReplicationFactor: number;
  logLevel: "debug" | "info" | "warn" | "error";
  /** The local stack's shape the defaults point at (STACK_PROFILE). */
  stackProfile: "single" | "cluster";
  /** The API's internal ops port (metrics, health); never published beyond the host. */
  apiOpsPort: number;
  /** The worker's ops port (health, metrics); unset: its service's default. */
  workerPort: number | undefined;
  /**
   * This worker replica's stable index: its consumer is the static member `<group>-<index>` of
   * its group (restarts keep its partitions without a rebalance). Unset: a dynamic member.
   */
  workerInstance: number | undefined;
  /**
   * How long Kafka keeps the system's records (the brokers' `log.retention.hours`, 168 in
   * stack/conf and compose): the longest window a read model fed from the log can answer.
   */
  topicRetentionHours: number;
  /** Inbox rows older than this are purged; must exceed the topics' retention (7 days). */
  inboxRetentionHours: number;
  /** Outbox rows and Idempotency-Keys older than this are purged. */
  outboxRetentionHours: number;
  /** An order still PENDING this long after it was placed is cancelled with TIMEOUT. */
  orderDeadlineMs: number;
  /** A coupon request still PENDING this long, once a later one is decided, is REJECTED. */
  couponRequestDeadlineMs: number;
  /** The most a wallet may hold after a charge; a charge past it is 422. */
  walletMaxBalance: number;
  /** Workers' ops ports the API's console scrapes (retries, p99), by worker name; may be empty. */
  workerOpsUrls: Record<string, string>;
};

/** A configuration value that is not allowed; the message names variable, value and rule. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

function shown(name: string, value: string, secret: boolean): string {
  if (secret) return `<redacted, ${value.length} characters>`;
  if (name.endsWith("_URL")) {
    try {
      const u = new URL(value);
      if (u.password) u.password = "***";
      return JSON.stringify(u.toString());
    } catch { /* not a URL: show as is */ }
  }
  return JSON.stringify(value);
}

/**
 * Parses the configuration from an environment record. Empty strings count as unset.
 * @throws {ConfigError} naming every bad variable, its value and what is allowed.
 * @example
 * const config = parseConfig({ PORT: "9000" });
 */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  // A bad STACK_PROFILE is reported below like any variable; the defaults then use single's.
  let local = localStack("single");
  try {
    local = localStack(stackProfile(env));
  } catch { /* reported by its schema */ }
  for (const [name, spec] of Object.entries(VARIABLES)) {
    const raw = env[name] === "" ? undefined : env[name];
    const value = raw ?? (typeof spec.default === "function" ? spec.default(local) : spec.default);
    const result = spec.schema.safeParse(value);
    if (result.success) {
      out[name] = result.data;
    } else {
      const secret = "secret" in spec && spec.secret;
      problems.push(
        `${name}=${shown(name, String(value), secret)} is not allowed: expected ${spec.allowed}`,
      );
    }
  }
  // One without the other is a half-made deployment: say so instead of logging in as the local
  // stack's default principal with the wrong password (or with none).
  if (
    problems.length === 0 &&
    (out.KAFKA_USERNAME === undefined) !== (out.KAFKA_PASSWORD === undefined)
  ) {
    problems.push(
      "KAFKA_USERNAME and KAFKA_PASSWORD are not allowed one without the other: expected both " +
        "(a deployment) or neither (the local stack's credentials)",
    );
  }
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n  ${problems.join("\n  ")}`);
  }
  const p = out as Parsed;
  return {
    port: p.PORT,
    databaseUrl: p.DATABASE_URL,
    databasePassword: p.DATABASE_PASSWORD,
    opsDatabasePassword: p.OPS_DATABASE_PASSWORD ?? p.DATABASE_PASSWORD,
    serviceDatabasePassword: p.SERVICE_DATABASE_PASSWORD,
    serviceDatabasePasswords: p.SERVICE_DATABASE_PASSWORDS,
    relayDatabaseUrl: p.RELAY_DATABASE_URL,
    kafkaBrokers: p.KAFKA_BROKERS,
    kafkaUsername: p.KAFKA_USERNAME,
    kafkaPassword: p.KAFKA_PASSWORD,
    kafkaConnectUrl: p.KAFKA_CONNECT_URL,
    authJwtSecret: p.AUTH_JWT_SECRET,
    authJwtMaxLifetimeS: p.AUTH_JWT_MAX_LIFETIME_S,
    authJwtIssuer: p.AUTH_JWT_ISSUER,
    authJwtAudience: p.AUTH_JWT_AUDIENCE,
    topicPartitions: p.TOPIC_PARTITIONS,
    topicReplicationFactor: p.TOPIC_REPLICATION_FACTOR,
    logLevel: p.LOG_LEVEL,
    stackProfile: p.STACK_PROFILE,
    apiOpsPort: p.API_OPS_PORT,
    workerPort: p.WORKER_PORT,
    workerInstance: p.WORKER_INSTANCE,
    topicRetentionHours: p.TOPIC_RETENTION_HOURS,
    inboxRetentionHours: p.INBOX_RETENTION_HOURS,
    outboxRetentionHours: p.OUTBOX_RETENTION_HOURS,
    orderDeadlineMs: p.ORDER_DEADLINE_MS,
    couponRequestDeadlineMs: p.COUPON_REQUEST_DEADLINE_MS,
    walletMaxBalance: p.WALLET_MAX_BALANCE,
    workerOpsUrls: p.WORKER_OPS_URLS,
  };
}

let loaded: Config | undefined;

/**
 * The configuration of this process, parsed from the environment on first use. On a bad value
 * it prints the problem to stderr and exits with status 78 (EX_CONFIG). Reads the named variables
 * only, never the whole environment, so a process allowed to read just those can call it.
 */
export function config(): Config {
  if (loaded) return loaded;
  try {
    loaded = parseConfig(Object.fromEntries(CONFIG_VARIABLES.map((k) => [k, Deno.env.get(k)])));
    return loaded;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    Deno.exit(78);
  }
}
