// The order timeline page: fetch the order's events and steps (admin route) and draw them in
// time order, failures and compensations marked, each with who wrote it and its trace id.
"use strict";

const { h, fill, call } = globalThis.ops;
const orderId = document.body.dataset.orderId;

async function load() {
  if (!ops.token()) return;
  try {
    const t = await call("GET", `/ops/api/orders/${encodeURIComponent(orderId)}/timeline`);
    const o = t.order;
    fill(
      "order",
      h(
        "table",
        {},
        h("tr", {}, h("th", {}, "order"), h("td", {}, o.id)),
        h("tr", {}, h("th", {}, "user"), h("td", {}, o.userId)),
        h(
          "tr",
          {},
          h("th", {}, "status"),
          h("td", {
            "data-order-status": o.status,
            class: o.status === "CANCELLED" ? "bad" : o.status === "CONFIRMED" ? "ok" : "",
          }, o.status + (o.cancelReason ? ` (${o.cancelReason})` : "")),
        ),
        h("tr", {}, h("th", {}, "placed"), h("td", {}, o.createdAt)),
        h("tr", {}, h("th", {}, "deadline"), h("td", {}, o.deadlineAt)),
      ),
    );
    const start = Date.parse(o.createdAt);
    fill(
      "timeline",
      h(
        "table",
        {},
        h(
          "tr",
          {},
          ...["+ms", "what", "by", "outcome", "detail", "trace id"].map((x) => h("th", {}, x)),
        ),
        t.entries.map((e) =>
          h(
            "tr",
            {
              class: `entry ${e.outcome}`,
              "data-type": e.type,
              "data-outcome": e.outcome,
              "data-by": e.by,
            },
            h("td", { class: "num", title: e.at }, String(Date.parse(e.at) - start)),
            h(
              "td",
              {},
              e.type,
              e.eventId ? h("br") : null,
              e.eventId ? h("small", {}, e.eventId) : null,
            ),
            h("td", {}, e.by),
            h("td", {}, e.outcome),
            h("td", {}, e.detail ?? ""),
            h("td", {}, h("code", {}, e.traceId ?? "")),
          )
        ),
      ),
    );
    document.body.dataset.loaded = "true";
  } catch (e) {
    fill("timeline", h("p", { class: "error" }, e.message));
  }
}

ops.bindLogin(load);
load();
// The saga may still be running: keep the timeline current, like the console.
setInterval(load, 2000);
