/**
 * The Postgres client. One pool per process; `sql.begin` marks every transaction in the code.
 */
import postgres from "postgres";
import { isLocalDatabase, withLocalPassword } from "./local_stack.ts";

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

export interface DbOptions {
  /** Pool size. @default 10 */
  max?: number;
  /** Application name shown in pg_stat_activity. @default "shop" */
  applicationName?: string;
  /**
   * The connections' `statement_timeout` (ms): the server cancels a statement running longer, and
   * its transaction rolls back. @default none (the server's setting)
   */
  statementTimeoutMs?: number;
  /**
   * The connections' `idle_in_transaction_session_timeout` (ms): the server ends a session left
   * idle inside a transaction this long, releasing its locks. @default none (the server's setting)
   */
  idleInTransactionTimeoutMs?: number;
  /**
   * A listening pool's handlers (`notifications.ts`): notifications as they arrive, and every
   * close of a connection (its LISTENs are gone with it). Its connections are then kept until
   * they break, never retired for their age, so no notification is lost to a planned reconnect.
   */
  onnotify?: (channel: string, payload: string) => void;
  onclose?: () => void;
}

/**
 * Opens a pool to `url`. Notices are dropped (they are noise in JSON logs); connections are
 * opened lazily, so a process starts even while Postgres is briefly down. A URL of the local stack
 * without a password gets its user's from the stack's folder (`withLocalPassword`).
 */
export function connect(url: string, options: DbOptions = {}): Sql {
  return postgres(withLocalPassword(url), {
    max: options.max ?? 10,
    // int8 (money, counts) as a JS number: every amount here stays far below 2^53.
    types: {
      bigint: {
        to: 20,
        from: [20],
        serialize: (x: number) => String(x),
        parse: (x: string) => Number(x),
      },
    },
    onnotice: () => {},
    ...(options.onnotify ? { onnotify: options.onnotify, max_lifetime: null } : {}),
    ...(options.onclose ? { onclose: options.onclose } : {}),
    // A connect that gets no answer (a restarting server behind a proxy, a hung host) fails
    // after 5 s instead of postgres.js's 30 s, so the caller's retry loop tries again sooner.
    connect_timeout: 5,
    // Between a failed connection and its next attempt: at most 250 ms. postgres.js' default grows
    // with the pool's failed attempts (3^n / 100 s, up to 20 s): after a restart of a few seconds
    // its connections, refused a dozen times while it was down, waited 2-20 s more before trying
    // again (the fault table's Postgres rows; docs/faults.md). A refused connect costs nothing.
    backoff: (retries: number) => Math.min(0.25, 0.02 * 2 ** retries),
    // Startup parameters: they hold for every session of the pool, reconnects included.
    connection: {
      application_name: options.applicationName ?? "shop",
      ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
      ...(options.idleInTransactionTimeoutMs
        ? { idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs }
        : {}),
    },
  });
}

/**
 * `url` logging in as `role`: a service process never uses the owner's user of DATABASE_URL but
 * its own role, which can touch only what the service owns (migrations/0010_service_roles.sql).
 * The password is `password` if given, else the URL's; for the local stack's Postgres the role's
 * own from the stack's folder (`connect` fills it in), never the owner's of the URL.
 * @example
 * connect(databaseUrlAs(cfg.databaseUrl, "shop_payment", cfg.databasePassword));
 */
export function databaseUrlAs(url: string, role: string, password?: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(role);
  if (password !== undefined) u.password = encodeURIComponent(password);
  else if (isLocalDatabase(url)) u.password = "";
  return u.toString();
}

/**
 * A row as the API answers it, by one rule for every table instead of a mapper per table: column
 * names in camelCase by the driver's own `postgres.toCamel` (`user_coupon_id` becomes
 * `userCouponId`, as `transform: postgres.camel` would name it), timestamps as ISO 8601 strings
 * (what JSON makes of a Date, but typed as the response schemas say), and null columns left out
 * (an optional field is absent, never null) except those named in `nullable`, which stay null.
 * Renames and shapes belong in the SQL (`id as order_id`); values inside json columns are kept
 * as they are. Only the rows given to it change: the pool's other queries (idempotency, outbox,
 * retention, workers) keep their snake_case columns (docs/decisions.md).
 * @example
 * const [row] = await sql`select id as request_id, coupon_id, reason from coupon_requests ...`;
 * return row && fromRow<CouponRequest>(row); // { requestId, couponId } when reason is null
 */
export function fromRow<T>(row: postgres.Row, nullable: readonly (keyof T & string)[] = []): T {
  const out: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    const key = postgres.toCamel(column);
    if (value === null && !nullable.includes(key as keyof T & string)) continue;
    out[key] = value instanceof Date ? value.toISOString() : value;
  }
  return out as T;
}

/** A query built but not yet run: nests in another query as a fragment. */
export type Fragment = postgres.PendingQuery<postgres.Row[]>;
