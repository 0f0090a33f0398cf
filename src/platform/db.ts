/**
 * The Postgres client. One pool per process; `sql.begin` marks every transaction in the code.
 */
import postgres from "postgres";

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

export interface DbOptions {
  /** Pool size. @default 10 */
  max?: number;
  /** Application name shown in pg_stat_activity. @default "shop" */
  applicationName?: string;
}

/**
 * Opens a pool to `url`. Notices are dropped (they are noise in JSON logs); connections are
 * opened lazily, so a process starts even while Postgres is briefly down.
 */
export function connect(url: string, options: DbOptions = {}): Sql {
  return postgres(url, {
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
    // A connect that gets no answer (a restarting server behind a proxy, a hung host) fails
    // after 5 s instead of postgres.js's 30 s, so the caller's retry loop tries again sooner.
    connect_timeout: 5,
    connection: { application_name: options.applicationName ?? "shop" },
  });
}

/**
 * `url` logging in as `role`: a service process never uses the owner's user of DATABASE_URL but
 * its own role, which can touch only what the service owns (migrations/0010_service_roles.sql).
 * The password is `password` if given, else the URL's.
 * @example
 * connect(databaseUrlAs(cfg.databaseUrl, "shop_payment", cfg.databasePassword));
 */
export function databaseUrlAs(url: string, role: string, password?: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(role);
  if (password !== undefined) u.password = encodeURIComponent(password);
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
