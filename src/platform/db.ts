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

/** A query built but not yet run: nests in another query as a fragment. */
export type Fragment = postgres.PendingQuery<postgres.Row[]>;
