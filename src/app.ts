/**
 * The HTTP API: mounts each service's route group (each behind its own bearer auth), plus health
 * and the generated OpenAPI document; metrics are on its internal ops port (`createOpsApp`). Every
 * write is one Postgres transaction with its outbox rows; the API never talks to Kafka.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Sql } from "./platform/db.ts";
import type { Logger } from "./platform/log.ts";
import type { AppEnv } from "./platform/http/env.ts";
import { notFound, onError, problemResponse } from "./platform/http/problem.ts";
import { requestContext } from "./platform/http/request_context.ts";
import { requestTimeout } from "./platform/http/request_timeout.ts";
import { metricsText } from "./platform/metrics.ts";
import { type Check, readyHandler, type Reported } from "./platform/ops_server.ts";
import type { TokenPolicy } from "./platform/http/auth.ts";
import { registerSlotLagSeconds, registerSlotMetrics } from "./platform/slot_metrics.ts";
import { ORDER_DECIDED, orderRoutes, registerOrderMetrics } from "./orders/mod.ts";
import { COUPON_REQUEST_DECIDED, couponRoutes, registerCouponMetrics } from "./coupons/mod.ts";
import { productRoutes } from "./inventory/mod.ts";
import { walletRoutes } from "./wallet/mod.ts";
import { bestSellerRoutes } from "./best_sellers/mod.ts";
import { apiDocsRoutes } from "./api_docs/routes.tsx";
import { opsRoutes } from "./ops/routes.tsx";
import { OpsCollector } from "./ops/snapshot.ts";
import { config } from "./platform/config.ts";
import { kafkaAccess } from "./platform/kafka.ts";
import { PRINCIPALS } from "./kafka_acls.ts";
import { type ListenHandlers, Notifications } from "./platform/notifications.ts";

/** Request bodies above this are refused (413) before they are parsed. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** A request without an answer this long gets 503 (a hung database, a lock held elsewhere). */
export const REQUEST_TIMEOUT_MS = 5000;

/**
 * The routes' connections' `statement_timeout` and `idle_in_transaction_session_timeout`: below
 * the request timeout, so that by the time a request could time out the database has cancelled its
 * statement and rolled its transaction back; the request answers 503 from that error, and nothing
 * of it runs on, or commits, after its client gave up.
 */
export const API_STATEMENT_TIMEOUT_MS = REQUEST_TIMEOUT_MS - 1000;

/** The routes' pool options (`connect`), as `deno task api` and the tests open it. */
export const API_POOL = {
  max: 8,
  applicationName: "api",
  statementTimeoutMs: API_STATEMENT_TIMEOUT_MS,
  idleInTransactionTimeoutMs: API_STATEMENT_TIMEOUT_MS,
} as const;

/** The channels the API listens on: decisions its `Prefer: wait` reads wait for. */
export const DECISION_CHANNELS = [ORDER_DECIDED, COUPON_REQUEST_DECIDED] as const;

/**
 * The API process's one listening connection for decisions, opened by `open` (a pool of one
 * connection with `handlers`, e.g. `connect(url, { max: 1, applicationName: "api-listen",
 * ...handlers })`).
 */
export function decisionNotifications(
  open: (handlers: ListenHandlers) => Sql,
  log: Logger,
): Notifications {
  return new Notifications(DECISION_CHANNELS, open, log);
}

/** The database roles of the API's routes and of its ops console (migrations/0010). */
export { API_ROLE, OPS_ROLE } from "./roles.ts";

export interface AppDeps {
  /** The routes' pool, as API_ROLE. */
  sql: Sql;
  /** The ops console's pool, as OPS_ROLE (it reads every service). @default sql */
  opsSql?: Sql;
  jwtSecret: string;
  /** Limits on tokens' claims (AUTH_JWT_MAX_LIFETIME_S, _ISSUER, _AUDIENCE). @default 24 h, none */
  jwt?: Omit<TokenPolicy, "secret">;
  log: Logger;
  /**
   * What readiness depends on (src/readiness.ts: a cached database probe). @default a
   * `select 1` on `sql` per probe
   */
  checks?: Record<string, Check>;
  /** Dependencies reported beside readiness without deciding it (Kafka, the relay). */
  reported?: () => Record<string, Reported>;
  /** ORDER_DEADLINE_MS: how long a new order may stay PENDING. @default 30000 */
  orderDeadlineMs?: number;
  /** TOPIC_RETENTION_HOURS: the longest best-sellers window (422 above). @default 168 */
  topicRetentionHours?: number;
  /** WALLET_MAX_BALANCE: a charge past it is 422. @default 1e12 */
  walletMaxBalance?: number;
  /**
   * A request without an answer this long gets 503 (a hung database). Keep it above the pool's
   * statement timeout (API_POOL). @default REQUEST_TIMEOUT_MS
   */
  requestTimeoutMs?: number;
  /** The ops console's data source; made from the configuration on first use if absent. */
  ops?: OpsCollector;
  /**
   * The listener that wakes `Prefer: wait` requests (`decisionNotifications`). Absent: the
   * preference is not honoured, every read answers at once.
   */
  notifications?: Notifications;
}

/**
 * The API's internal ops port, as the workers have one (`src/platform/ops_server.ts`): GET
 * /metrics, and GET /health/live and /health/ready answered by `app` itself, so a probe gets the
 * same answer on either port. /metrics is not on the public port: its labels and gauges describe
 * the system (routes, orders, coupons, the relay's lag) and scrapers sit inside.
 */
export function createOpsApp(app: { fetch: (req: Request) => Response | Promise<Response> }): Hono {
  const ops = new Hono();
  // Served from memory only: the database gauges are refreshed in the background, so no scrape
  // ever waits for, or takes, a connection of the request pool.
  ops.get("/metrics", async (c) => {
    const { body, contentType } = await metricsText();
    return c.body(body, 200, { "content-type": contentType });
  });
  ops.get("/health/live", (c) => app.fetch(c.req.raw));
  ops.get("/health/ready", (c) => app.fetch(c.req.raw));
  ops.notFound(notFound);
  return ops;
}

/**
 * Registers the API's database-derived gauges (slot lag in bytes and seconds, orders by status,
 * oldest PENDING order, FCFS pending), read from `sql` by the background refresher that main
 * starts (`refreshDbGauges`); GET /metrics serves their last values from memory. Also serves the
 * order deadline, so an alert compares the oldest PENDING order with the deadline in force.
 */
export function registerApiGauges(sql: Sql, opts: { orderDeadlineMs: number }): void {
  registerSlotMetrics(sql);
  registerSlotLagSeconds(sql);
  registerOrderMetrics(sql, opts.orderDeadlineMs);
  registerCouponMetrics(sql);
}

export function createApp(
  {
    sql,
    opsSql = sql,
    jwtSecret,
    jwt = {},
    log,
    checks,
    reported,
    orderDeadlineMs = 30_000,
    walletMaxBalance,
    topicRetentionHours = 168,
    requestTimeoutMs = REQUEST_TIMEOUT_MS,
    ops,
    notifications,
  }: AppDeps,
): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.onError(onError(log));
  app.notFound(notFound);
  app.use(requestContext(log));
  app.use(requestTimeout(requestTimeoutMs));
  app.use(bodyLimit({
    maxSize: BODY_LIMIT_BYTES,
    onError: (c) => problemResponse(c, 413, `The request body exceeds ${BODY_LIMIT_BYTES} bytes`),
  }));

  app.get("/health/live", (c) => c.json({ status: "ok" }));
  const readiness: Record<string, Check> = checks ?? {
    database: async () => {
      await sql`select 1`;
      return { ok: true };
    },
  };
  app.get("/health/ready", readyHandler(readiness, undefined, undefined, reported));

  // Each service's group applies the auth middleware itself to everything under its path
  // prefixes (never at the root), so a route added to a group cannot be public by mistake. Only
  // what this file registers directly is public: health, the document, the docs, and
  // the ops console, which checks its own admin token (tests/unit/route_auth_test.ts).
  const tokens: TokenPolicy = { ...jwt, secret: jwtSecret };
  // Before the product routes: their `/products/{id}` would take `best-sellers` for an id.
  app.route("/", bestSellerRoutes(sql, tokens, topicRetentionHours));
  app.route("/", productRoutes(sql, tokens));
  app.route("/", couponRoutes(sql, tokens, notifications));
  app.route("/", walletRoutes(sql, tokens, walletMaxBalance));
  app.route("/", orderRoutes(sql, tokens, orderDeadlineMs, notifications));

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });
  // `servers` names the origin the document was fetched from, so a generated client or the docs'
  // "try it out" calls this very API, behind whatever host name it was reached.
  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "shop API",
      version: "1.0.0",
      description: "Orders and FCFS coupons, event-driven through a transactional outbox. " +
        "Errors are application/problem+json (RFC 9457).",
      license: { name: "Proprietary (no public license)", identifier: "LicenseRef-Proprietary" },
    },
    servers: [{ url: new URL(c.req.url).origin, description: "this API" }],
  }));
  app.route("/", apiDocsRoutes());
  let collector = ops;
  app.route(
    "/",
    opsRoutes({
      sql: opsSql,
      tokens,
      log,
      collector: () =>
        collector ??= new OpsCollector({
          sql: opsSql,
          log,
          kafka: kafkaAccess(config(), PRINCIPALS.ops),
          connectUrl: config().kafkaConnectUrl,
          workerOpsUrls: config().workerOpsUrls,
        }),
    }),
  );
  return app;
}
