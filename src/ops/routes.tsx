/**
 * The ops console's route group: the pages (/ops, /ops/orders/:id) and their assets are public;
 * their data and actions (/ops/api/*) are for administrators, and every action is logged with
 * the admin's sub (the audit trail of replays and discards).
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import { auth, requireAdmin } from "../platform/http/auth.ts";
import type { AppEnv } from "../platform/http/env.ts";
import { HttpProblem, validationProblem } from "../platform/http/problem.ts";
import { pathId } from "../platform/http/router.ts";
import { systemTopics } from "../events/topics.ts";
import { discardDeadLetters, dlqName, replayDeadLetters } from "./dlq.ts";
import type { OpsCollector } from "./snapshot.ts";
import { orderTimeline } from "./timeline.ts";
import { OPS_ASSETS } from "./assets.ts";
import { ConsolePage } from "./console_page.tsx";
import { TimelinePage } from "./timeline_page.tsx";
import { htmlPage } from "../platform/http/page_headers.ts";

const Selection = z.strictObject({
  ids: z.array(z.string().min(1).max(100)).min(1).max(100),
});

export interface OpsDeps {
  sql: Sql;
  jwtSecret: string;
  log: Logger;
  /** Made on first use, so an app that never serves the console opens no Kafka connection. */
  collector: () => OpsCollector;
}

export function opsRoutes({ sql, jwtSecret, log, collector }: OpsDeps) {
  const app = new Hono<AppEnv>();
  const audit = log.child({ audit: "ops" });

  app.get("/ops", (c) => htmlPage(c, <ConsolePage />));
  app.get(
    "/ops/orders/:id",
    (c) => htmlPage(c, <TimelinePage orderId={c.req.param("id")} />),
  );
  app.get("/ops/assets/:name", (c) => {
    const asset = OPS_ASSETS[c.req.param("name")];
    if (!asset) throw new HttpProblem(404, "No such asset");
    return c.body(asset.body, 200, {
      "content-type": asset.type,
      "cache-control": "public, max-age=300",
    });
  });

  app.use("/ops/api/*", auth(jwtSecret), requireAdmin());
  app.get("/ops/api/snapshot", async (c) => c.json(await collector().snapshot()));
  app.get("/ops/api/orders/:id/timeline", async (c) => {
    const timeline = await orderTimeline(sql, pathId(c.req.param("id"), "Order"));
    if (!timeline) throw new HttpProblem(404, "Order not found");
    return c.json(timeline);
  });

  const topics = new Set(systemTopics());
  for (const action of ["replay", "discard"] as const) {
    app.post(`/ops/api/dead-letters/:topic/${action}`, async (c) => {
      const topic = c.req.param("topic");
      if (!topics.has(topic)) throw new HttpProblem(404, `No system topic ${topic}`);
      const parsed = Selection.safeParse(await c.req.json().catch(() => undefined));
      if (!parsed.success) {
        return validationProblem(
          c,
          parsed.error.issues.map((i) => ({
            path: ["body", ...i.path.map(String)].join("."),
            message: i.message,
          })),
        );
      }
      const { ids } = parsed.data;
      const admin = c.get("user").id;
      const kafka = collector().kafka;
      const done = action === "replay"
        ? await replayDeadLetters(kafka, sql, topic, ids)
        : await discardDeadLetters(kafka, sql, topic, ids, admin);
      const letters = done.map((d) => ({
        key: `${d.dlqPartition}@${d.dlqOffset}`,
        id: d.id ?? null,
        eventType: d.eventType ?? null,
        origin: `${d.origin.topic}/${d.origin.partition}@${d.origin.offset}`,
      }));
      audit.info(`dead letters ${action === "replay" ? "replayed" : "discarded"}`, {
        admin,
        requestId: c.get("requestId"),
        dlqTopic: dlqName(topic),
        asked: ids,
        letters,
      });
      return c.json({ count: done.length, letters });
    });
  }
  return app;
}
