/**
 * The process configuration: every variable of the ARCHITECTURE table, parsed with zod once.
 * A bad value stops the process with a message naming the variable, the value and what is allowed.
 */
import { z } from "zod";
import { type LocalStack, localStack, STACK_PROFILES, stackProfile } from "./local_stack.ts";

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
  WORKER_PORT: {
    schema: anyPort.optional(),
    default: undefined,
    allowed: "an integer from 0 to 65535 (0: any free port)",
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
  /** The database as Kafka Connect reaches it, when that differs from DATABASE_URL. */
  relayDatabaseUrl: string | undefined;
  kafkaBrokers: string[];
  kafkaConnectUrl: string;
  authJwtSecret: string | undefined;
  topicPartitions: number;
  topicReplicationFactor: number;
  logLevel: "debug" | "info" | "warn" | "error";
  /** The local stack's shape the defaults point at (STACK_PROFILE). */
  stackProfile: "single" | "cluster";
  /** The worker's ops port (health, metrics); unset: its service's default. */
  workerPort: number | undefined;
  /** Inbox rows older than this are purged; must exceed the topics' retention (7 days). */
  inboxRetentionHours: number;
  /** Outbox rows and Idempotency-Keys older than this are purged. */
  outboxRetentionHours: number;
  /** An order still PENDING this long after it was placed is cancelled with TIMEOUT. */
  orderDeadlineMs: number;
  /** A coupon request still PENDING this long, once a later one is decided, is REJECTED. */
  couponRequestDeadlineMs: number;
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
    relayDatabaseUrl: p.RELAY_DATABASE_URL,
    kafkaBrokers: p.KAFKA_BROKERS,
    kafkaConnectUrl: p.KAFKA_CONNECT_URL,
    authJwtSecret: p.AUTH_JWT_SECRET,
    topicPartitions: p.TOPIC_PARTITIONS,
    topicReplicationFactor: p.TOPIC_REPLICATION_FACTOR,
    logLevel: p.LOG_LEVEL,
    stackProfile: p.STACK_PROFILE,
    workerPort: p.WORKER_PORT,
    inboxRetentionHours: p.INBOX_RETENTION_HOURS,
    outboxRetentionHours: p.OUTBOX_RETENTION_HOURS,
    orderDeadlineMs: p.ORDER_DEADLINE_MS,
    couponRequestDeadlineMs: p.COUPON_REQUEST_DEADLINE_MS,
    workerOpsUrls: p.WORKER_OPS_URLS,
  };
}

let loaded: Config | undefined;

/**
 * The configuration of this process, parsed from the environment on first use. On a bad value
 * it prints the problem to stderr and exits with status 78 (EX_CONFIG).
 */
export function config(): Config {
  if (loaded) return loaded;
  try {
    loaded = parseConfig(Deno.env.toObject());
    return loaded;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    Deno.exit(78);
  }
}
