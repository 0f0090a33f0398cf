/**
 * The HTTP API process. This foundation serves health only; the route groups of the contract
 * (products, coupons, wallet, orders) mount here.
 */
import { Hono } from "hono";
import { config } from "./platform/config.ts";
import { connect, type Sql } from "./platform/db.ts";
import { logger, setLogLevel } from "./platform/log.ts";

/** The Hono app over an open database pool. */
export function createApp(sql: Sql): Hono {
  const app = new Hono();
  app.get("/health/live", (c) => c.json({ status: "ok" }));
  app.get("/health/ready", async (c) => {
    try {
      await sql`select 1`;
      return c.json({ status: "ok", checks: { database: "ok" } });
    } catch (err) {
      return c.json(
        { status: "unavailable", checks: { database: (err as Error).message } },
        503,
      );
    }
  });
  return app;
}

if (import.meta.main) {
  const cfg = config();
  setLogLevel(cfg.logLevel);
  const log = logger("api");
  const sql = connect(cfg.databaseUrl, { max: 20, applicationName: "api" });
  const server = Deno.serve({
    port: cfg.port,
    hostname: "0.0.0.0",
    onListen: ({ port }) => log.info("listening", { port }),
  }, createApp(sql).fetch);
  const stop = async () => {
    log.info("shutting down");
    await server.shutdown();
    await sql.end({ timeout: 5 });
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
}
