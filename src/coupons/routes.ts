/**
 * Coupon routes, every one behind a bearer token: definitions (admin) and FCFS issue requests
 * under /coupons, request status under /coupon-requests, my coupons under /users.
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { Sql } from "../platform/db.ts";
import { requireAdmin } from "../platform/http/auth.ts";
import { HttpProblem } from "../platform/http/problem.ts";
import {
  json,
  jsonBody,
  pathId,
  problems,
  protectedRouter,
  requireJson,
  router,
} from "../platform/http/router.ts";
import type { TokenPolicy } from "../platform/http/auth.ts";
import type { Notifications } from "../platform/notifications.ts";
import {
  preferenceAppliedHeader,
  PreferHeaders,
  readWithPreferredWait,
} from "../platform/http/prefer_wait.ts";
import {
  Coupon,
  COUPON_REQUEST_DECIDED,
  CouponRequest,
  createCoupon,
  findCoupon,
  findRequest,
  listUserCoupons,
  NewCoupon,
  requestIssue,
  UserCoupon,
} from "./store.ts";

const security = [{ bearer: [] }];
const IdParam = z.object({ id: z.string() });

/**
 * `notifications`: the process's listener for decisions; without it `Prefer: wait` is not
 * honoured (answered at once).
 */
export function couponRoutes(sql: Sql, tokens: TokenPolicy, notifications?: Notifications) {
  // One protected sub-app per path prefix the service owns: each is mounted under its prefix,
  // so its auth never meets a request outside it.
  const coupons = protectedRouter(tokens);
  const requests = protectedRouter(tokens);
  const users = protectedRouter(tokens);

  coupons.openapi(
    createRoute({
      method: "post",
      path: "/",
      operationId: "createCoupon",
      tags: ["coupons"],
      summary: "Create a coupon (admin)",
      security,
      middleware: [requireAdmin(), requireJson()] as const,
      request: { body: jsonBody(NewCoupon) },
      responses: { 201: json(Coupon, "Created"), ...problems(400, 401, 403, 413, 415) },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const coupon = await sql.begin((tx) => createCoupon(tx, input, c.get("traceparent")));
      return c.json(coupon, 201, { location: `/coupons/${coupon.id}` });
    },
  );

  coupons.openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      operationId: "getCoupon",
      tags: ["coupons"],
      summary: "A coupon with its issued quantity",
      security,
      request: { params: IdParam },
      responses: { 200: json(Coupon, "The coupon"), ...problems(401, 404) },
    }),
    async (c) => {
      const coupon = await findCoupon(sql, pathId(c.req.valid("param").id, "Coupon"));
      if (!coupon) throw new HttpProblem(404, "Coupon not found");
      return c.json(coupon, 200);
    },
  );

  coupons.openapi(
    createRoute({
      method: "post",
      path: "/{id}/issue-requests",
      operationId: "requestCouponIssue",
      tags: ["coupons"],
      summary: "Ask for an FCFS coupon; the outcome arrives asynchronously",
      description: "202 with a PENDING request the first time; 200 with the same request after. " +
        "GET the Location with `Prefer: wait=N` for the outcome (ISSUED or REJECTED).",
      security,
      request: { params: IdParam },
      responses: {
        202: json(CouponRequest, "Accepted, PENDING"),
        200: json(CouponRequest, "This user's existing request"),
        ...problems(401, 404),
      },
    }),
    async (c) => {
      const couponId = pathId(c.req.valid("param").id, "Coupon");
      const result = await requestIssue(sql, couponId, c.get("user").id, c.get("traceparent"));
      if (!result) throw new HttpProblem(404, "Coupon not found");
      const { request, created } = result;
      const location = `/coupon-requests/${request.requestId}`;
      return created ? c.json(request, 202, { location }) : c.json(request, 200, { location });
    },
  );

  requests.openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      operationId: "getCouponRequest",
      tags: ["coupons"],
      summary: "The status of one of my coupon requests",
      description: "With `Prefer: wait=N`, answers as soon as the request is ISSUED or " +
        "REJECTED, or after N seconds (at most 30) while it is still PENDING.",
      security,
      request: { params: IdParam, headers: PreferHeaders },
      responses: {
        200: { ...json(CouponRequest, "The request"), headers: preferenceAppliedHeader },
        ...problems(401, 404),
      },
    }),
    async (c) => {
      const id = pathId(c.req.valid("param").id, "Coupon request");
      const userId = c.get("user").id;
      const { row: request, headers } = await readWithPreferredWait(c, {
        notifications,
        channel: COUPON_REQUEST_DECIDED,
        id,
        read: () => findRequest(sql, id, userId),
        isPending: (r) => r.status === "PENDING",
      });
      if (!request) throw new HttpProblem(404, "Coupon request not found");
      return c.json(request, 200, headers);
    },
  );

  users.openapi(
    createRoute({
      method: "get",
      path: "/me/coupons",
      operationId: "listMyCoupons",
      tags: ["coupons"],
      summary: "The coupons I hold",
      security,
      responses: {
        200: json(z.object({ items: z.array(UserCoupon) }), "My coupons"),
        ...problems(401),
      },
    }),
    async (c) => c.json({ items: await listUserCoupons(sql, c.get("user").id) }, 200),
  );

  return router()
    .route("/coupons", coupons)
    .route("/coupon-requests", requests)
    .route("/users", users);
}
