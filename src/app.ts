/**
 * The HTTP API: mounts each service's route group (each behind its own bearer auth), plus health,
 * metrics and the generated OpenAPI document. Every write is one Postgres transaction with its
 * outbox rows; the API never talks to Kafka.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import type { Sql } from "./platform/db.ts";
import type { Logger } from "./platform/log.ts";
import type { AppEnv } from "./platform/http/env.ts";
import { notFound, onError, problemResponse } from "./platform/http/problem.ts";
import { requestContext } from "./platform/http/request_context.ts";
import { requestTimeout } from "./platform/http/request_timeout.ts";
import { metricsText } from "./platform/metrics.ts";
import { type Check, readyHandler } from "./platform/ops_server.ts";
import { registerSlotMetrics } from "./platform/slot_metrics.ts";
import { orderRoutes, registerOrderMetrics } from "./orders/mod.ts";
import { couponRoutes, registerCouponMetrics } from "./coupons/mod.ts";
import { productRoutes } from "./inventory/mod.ts";
import { walletRoutes } from "./wallet/mod.ts";
import { apiDocsRoutes } from "./api_docs/routes.tsx";
import { opsRoutes } from "./ops/routes.tsx";
import { OpsCollector } from "./ops/snapshot.ts";
import { config } from "./platform/config.ts";

/** Request bodies above this are refused (413) before they are parsed. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** The database roles of the API's routes and of its ops console (migrations/0010). */
export const API_ROLE = "shop_api";
export const OPS_ROLE = "shop_ops";

export interface AppDeps {
  /** The routes' pool, as API_ROLE. */
  sql: Sql;
  /** The ops console's pool, as OPS_ROLE (it reads every service). @default sql */
  opsSql?: Sql;
  jwtSecret: string;
  log: Logger;
  /** Readiness checks beyond the database (Kafka, the relay); see src/readiness.ts. */
  checks?: Record<string, Check>;
  /** ORDER_DEADLINE_MS: how long a new order may stay PENDING. @default 30000 */
  orderDeadlineMs?: number;
  /** A request without an answer this long gets 503 (a hung database). @default 5000 */
  requestTimeoutMs?: number;
  /** The ops console's data source; made from the configuration on first use if absent. */
  ops?: OpsCollector;
}

/**
 * Registers the API's database-derived gauges (slot lag, orders by status, oldest PENDING order,
 * FCFS pending), read from `sql` by the background refresher that main starts
 * (`refreshDbGauges`); GET /metrics serves their last values from memory.
 */
export function registerApiGauges(sql: Sql): void {
  registerSlotMetrics(sql);
  registerOrderMetrics(sql);
  registerCouponMetrics(sql);
}

export function createApp(
  {
    sql,
    opsSql = sql,
    jwtSecret,
    log,
    checks = {},
    orderDeadlineMs = 30_000,
    requestTimeoutMs = 5000,
    ops,
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
  const readiness: Record<string, Check> = {
    database: async () => {
      await sql`select 1`;
      return { ok: true };
    },
    ...checks,
  };
  app.get("/health/ready", readyHandler(readiness));
  // Served from memory only: the database gauges are refreshed in the background, so no scrape
  // ever waits for, or takes, a connection of the request pool.
  app.get("/metrics", async (c) => {
    const { body, contentType } = await metricsText();
    return c.body(body, 200, { "content-type": contentType });
  });

  // Each service's group applies the auth middleware itself to everything under its path
  // prefixes (never at the root), so a route added to a group cannot be public by mistake. Only
  // what this file registers directly is public: health, metrics, the document, the docs, and
  // the ops console, which checks its own admin token (tests/unit/route_auth_test.ts).
  app.route("/", productRoutes(sql, jwtSecret));
  app.route("/", couponRoutes(sql, jwtSecret));
  app.route("/", walletRoutes(sql, jwtSecret));
  app.route("/", orderRoutes(sql, jwtSecret, orderDeadlineMs));

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
      jwtSecret,
      log,
      collector: () =>
        collector ??= new OpsCollector({
          sql: opsSql,
          log,
          kafkaBrokers: config().kafkaBrokers,
          connectUrl: config().kafkaConnectUrl,
          workerOpsUrls: config().workerOpsUrls,
        }),
    }),
  );
  return app;
}
