/**
 * The ops console's route group: the pages (/ops, /ops/orders/:id) and their assets are public;
 * their data and actions (/ops/api/*) are for administrators, and every action is logged with
 * the admin's sub (the audit trail of replays and discards).
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import { auth, requireAdmin, type TokenPolicy } from "../platform/http/auth.ts";
import type { AppEnv } from "../platform/http/env.ts";
import { HttpProblem, validationProblem } from "../platform/http/problem.ts";
import { pathId } from "../platform/http/router.ts";
import { systemTopics } from "../events/topics.ts";
import {
  DeadLetterError,
  decodeCursor,
  discardDeadLetters,
  dlqKey,
  dlqName,
  findDeadLetters,
  openOnly,
  originKey,
  pageDeadLetters,
  parseAddress,
  replayDeadLetters,
} from "./dlq.ts";
import { view } from "./dead_letters.ts";
import type { OpsCollector } from "./snapshot.ts";
import { orderTimeline } from "./timeline.ts";
import { OPS_ASSETS } from "./assets.ts";
import { ConsolePage } from "./console_page.tsx";
import { TimelinePage } from "./timeline_page.tsx";
import { htmlPage } from "../platform/http/page_headers.ts";

/**
 * The dead letters an action names: `partition@offset` in the DLQ topic (what the console sends),
 * `topic/partition@offset` of the origin record, or an event id.
 */
const Selection = z.strictObject({
  ids: z.array(
    z.string().max(300).refine(
      (s) => parseAddress(s) !== undefined,
      "not partition@offset, topic/partition@offset or an event id (UUID)",
    ),
  ).min(1).max(100),
});

const PageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).optional(),
  before: z.string().max(2000).refine(
    (s) => decodeCursor(s) !== undefined,
    "not a cursor of an earlier page",
  ).optional(),
});

export interface OpsDeps {
  sql: Sql;
  tokens: TokenPolicy;
  log: Logger;
  /** Made on first use, so an app that never serves the console opens no Kafka connection. */
  collector: () => OpsCollector;
}

export function opsRoutes({ sql, tokens, log, collector }: OpsDeps) {
  const app = new Hono<AppEnv>();
  const audit = log.child({ audit: "ops" });

  app.get("/ops", (c) => htmlPage(c, <ConsolePage />));
  app.get(
    "/ops/orders/:id",
    (c) => htmlPage(c, <TimelinePage orderId={c.req.param("id")} />),
  );
  app.get("/ops/assets/:name", (c) => {
    const asset = OPS_ASSETS.get(c.req.param("name"));
    if (!asset) throw new HttpProblem(404, "No such asset");
    return c.body(asset.body, 200, {
      "content-type": asset.type,
      "cache-control": "public, max-age=300",
    });
  });

  app.use("/ops/api/*", auth(tokens), requireAdmin());
  app.get("/ops/api/snapshot", async (c) => c.json(await collector().snapshot()));
  app.get("/ops/api/orders/:id/timeline", async (c) => {
    const timeline = await orderTimeline(sql, pathId(c.req.param("id"), "Order"));
    if (!timeline) throw new HttpProblem(404, "Order not found");
    return c.json(timeline);
  });

  const topics = new Set(systemTopics());
  const systemTopic = (topic: string) => {
    if (!topics.has(topic)) throw new HttpProblem(404, `No system topic ${topic}`);
    return topic;
  };
  const badRequest = (c: Context<AppEnv>, issues: z.core.$ZodIssue[], where: string) =>
    validationProblem(
      c,
      issues.map((i) => ({ path: [where, ...i.path.map(String)].join("."), message: i.message })),
    );

  // A page of a DLQ topic's open dead letters, newest first: what the console's "older" reads.
  app.get("/ops/api/dead-letters/:topic", async (c) => {
    const topic = systemTopic(c.req.param("topic"));
    const parsed = PageQuery.safeParse(c.req.query());
    if (!parsed.success) return badRequest(c, parsed.error.issues, "query");
    const page = await pageDeadLetters(collector().kafka, topic, parsed.data);
    const open = await openOnly(sql, page.letters);
    return c.json({ topic: dlqName(topic), items: open.map(view), nextCursor: page.nextCursor });
  });

  for (const action of ["replay", "discard"] as const) {
    app.post(`/ops/api/dead-letters/:topic/${action}`, async (c) => {
      const topic = systemTopic(c.req.param("topic"));
      const parsed = Selection.safeParse(await c.req.json().catch(() => undefined));
      if (!parsed.success) return badRequest(c, parsed.error.issues, "body");
      const { ids } = parsed.data;
      const admin = c.get("user").id;
      const kafka = collector().kafka;
      let done;
      try {
        const letters = await findDeadLetters(kafka, sql, topic, ids);
        done = action === "replay"
          ? await replayDeadLetters(sql, letters, admin)
          : await discardDeadLetters(sql, letters, admin);
      } catch (err) {
        if (!(err instanceof DeadLetterError)) throw err;
        // Nothing was written: an unknown dead letter, a record that is no event, or one
        // replayed or discarded before.
        const status = err.kind === "unknown" ? 404 : err.kind === "notAnEvent" ? 422 : 409;
        throw new HttpProblem(status, err.message, { deadLetters: err.items });
      }
      collector().deadLetters.invalidate(dlqName(topic));
      const letters = done.map((d) => ({
        key: dlqKey(d),
        id: d.id ?? null,
        eventType: d.eventType ?? null,
        origin: originKey(d),
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
