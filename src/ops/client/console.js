// The console's live part: every second, fetch the snapshot and redraw the tables and the two
// charts (uPlot, served by the API). Dead-letter buttons call the admin routes and redraw.
"use strict";

const { h, fill, fmt, age, call } = globalThis.ops;
const REFRESH_MS = 1000;
const POINTS = 120; // two minutes of history at one point a second

const series = { t: [], relay: [], rates: {}, lag: {} };
let charts;

const clip = (text, n) => (text.length > n ? `${text.slice(0, n)}…` : text);

function err(section) {
  return h("p", { class: "error" }, `unavailable: ${section.error}`);
}

function renderRelay(relay) {
  const c = relay.connector;
  const slot = relay.slots.ok ? relay.slots.data[0] : undefined;
  const state = !c.ok ? `unknown (${c.error})` : c.data ? c.data.state : "not registered";
  const tasks = c.ok && c.data
    ? c.data.tasks.map((t) => `${t.id}: ${t.state}`).join(", ") || "none"
    : "–";
  const cls = (s) => (s === "RUNNING" ? "ok" : "bad");
  fill(
    "relay",
    h(
      "table",
      {},
      h(
        "tr",
        {},
        h("th", {}, "connector"),
        h("td", { class: cls(state), "data-connector": state }, state),
      ),
      h("tr", {}, h("th", {}, "tasks"), h("td", {}, tasks)),
      h(
        "tr",
        {},
        h("th", {}, "slot"),
        h(
          "td",
          {},
          slot
            ? `${slot.slot} (${slot.active ? "active" : "inactive"})`
            : relay.slots.ok
            ? "none"
            : relay.slots.error,
        ),
      ),
      h(
        "tr",
        {},
        h("th", {}, "slot lag"),
        h(
          "td",
          { "data-slot-lag-bytes": slot?.lagBytes ?? "" },
          slot
            ? `${fmt(slot.lagBytes)} bytes, ${
              slot.lagSeconds === null
                ? "– s (relay not connected)"
                : `${fmt(slot.lagSeconds, 3)} s`
            }`
            : "–",
        ),
      ),
      h(
        "tr",
        {},
        h("th", {}, "events/s"),
        h("td", { "data-events-per-second": "" }, fmt(relay.eventsPerSecond, 1)),
      ),
    ),
  );
}

function renderGroups(groups) {
  if (!groups.ok) return fill("groups", err(groups));
  fill(
    "groups",
    h(
      "table",
      {},
      h(
        "tr",
        {},
        ...[
          "group",
          "lag",
          "lag per partition",
          "records/s",
          "commit→consume p99",
          "retries (transient / infra)",
          "dead-lettered",
        ].map((t) => h("th", {}, t)),
      ),
      groups.data.map((g) =>
        h(
          "tr",
          { "data-group": g.group },
          h("td", {}, g.group),
          h(
            "td",
            { class: g.lag > 0 ? "num warn" : "num", "data-lag-group": g.group },
            String(g.lag),
          ),
          h(
            "td",
            { class: "partitions" },
            g.partitions.map((p) =>
              h("span", {
                title: `${p.topic}/${p.partition}: committed ${p.committed}, end ${p.end}`,
              }, `${p.topic.replace("shop.", "")}/${p.partition}: ${p.lag}`)
            ),
          ),
          h("td", { class: "num" }, fmt(g.recordsPerSecond, 1)),
          h(
            "td",
            { class: "num" },
            g.commitToConsumeP99Seconds === null
              ? "–"
              : `${fmt(g.commitToConsumeP99Seconds * 1000, 0)} ms`,
          ),
          h(
            "td",
            { class: "num" },
            g.worker?.reachable
              ? `${g.worker.retries.transient} / ${g.worker.retries.infrastructure}`
              : g.worker
              ? `unreachable`
              : "not scraped",
          ),
          h("td", { class: g.deadLettered > 0 ? "num warn" : "num" }, String(g.deadLettered)),
        )
      ),
    ),
  );
}

function renderOrders(orders) {
  if (!orders.ok) {
    fill("orders", err(orders));
    return fill("fcfs", err(orders));
  }
  const o = orders.data;
  const statuses = ["PENDING", "CONFIRMED", "CANCELLED"];
  const steps = Object.entries(o.timeoutsByMissingStep);
  fill(
    "orders",
    h(
      "table",
      {},
      statuses.map((s) =>
        h(
          "tr",
          {},
          h("th", {}, s),
          h("td", { class: "num", "data-orders": s }, fmt(o.byStatus[s] ?? 0)),
        )
      ),
      h(
        "tr",
        {},
        h("th", {}, "oldest PENDING"),
        h("td", { class: "num" }, age(o.oldestPendingSeconds)),
      ),
      h(
        "tr",
        {},
        h("th", {}, "timeouts by missing step"),
        h("td", {}, steps.length ? steps.map(([s, n]) => `${s}: ${n}`).join(", ") : "none"),
      ),
    ),
  );
  fill(
    "fcfs",
    o.fcfsPending.length === 0 ? h("p", {}, "no pending requests") : h(
      "table",
      {},
      h("tr", {}, h("th", {}, "coupon"), h("th", {}, "pending")),
      o.fcfsPending.map((c) =>
        h(
          "tr",
          {},
          h("td", { title: c.couponId }, c.name),
          h("td", { class: "num" }, String(c.pending)),
        )
      ),
    ),
  );
}

// Older pages of each DLQ topic the operator asked for ("older"), kept across redraws: the
// snapshot carries only the newest page.
const olderPages = {};

async function loadOlder(topic, cursor, button) {
  button.disabled = true;
  try {
    const r = await call(
      "GET",
      `/ops/api/dead-letters/${encodeURIComponent(topic)}?before=${encodeURIComponent(cursor)}`,
    );
    const o = (olderPages[topic] ??= { items: [] });
    o.items.push(...r.items);
    o.nextCursor = r.nextCursor;
    await refresh();
  } catch (e) {
    fill("dlq-message", `reading older dead letters failed: ${e.message}`);
    button.disabled = false;
  }
}

async function act(action, topic, key, button) {
  button.disabled = true;
  try {
    const r = await call("POST", `/ops/api/dead-letters/${encodeURIComponent(topic)}/${action}`, {
      ids: [key],
    });
    const o = olderPages[topic];
    if (o) o.items = o.items.filter((d) => d.key !== key);
    fill(
      "dlq-message",
      `${action === "replay" ? "replayed" : "discarded"} ${r.count} dead letter(s) of ${topic}`,
    );
    await refresh();
  } catch (e) {
    fill("dlq-message", `${action} failed: ${e.message}`);
    button.disabled = false;
  }
}

/** The snapshot's newest page plus the older pages loaded, each dead letter once. */
function shownLetters(t) {
  const o = olderPages[t.topic];
  const keys = new Set(t.items.map((d) => d.key));
  const items = [...t.items, ...(o?.items ?? []).filter((d) => !keys.has(d.key))];
  return { items, nextCursor: o ? o.nextCursor : t.nextCursor };
}

function renderDeadLetters(dl) {
  if (!dl.ok) return fill("dead-letters", err(dl));
  fill(
    "dead-letters",
    dl.data.map((t) => ({ ...t, ...shownLetters(t) })).map((t) =>
      h(
        "div",
        { class: "dlq-topic", "data-dlq-topic": t.topic },
        h(
          "h3",
          {},
          `${t.topic} `,
          h(
            "span",
            { class: t.open ? "badge warn" : "badge", "data-dlq-open": t.topic },
            `${t.open} open`,
          ),
          t.stale ? h("span", { class: "badge" }, "reading…") : null,
        ),
        t.items.length === 0 ? null : h(
          "table",
          {},
          h(
            "tr",
            {},
            ...["event", "origin (group)", "error", "age", "payload", ""].map((x) =>
              h("th", {}, x)
            ),
          ),
          t.items.map((d) =>
            h(
              "tr",
              { "data-dlq-key": d.key, "data-dlq-id": d.id ?? "" },
              h("td", {}, d.eventType ?? "?", h("br"), h("small", {}, d.id ?? "no id")),
              h("td", {}, d.origin, h("br"), h("small", {}, d.group)),
              h("td", { class: "error-text", title: d.error }, clip(d.error, 240)),
              h("td", { class: "num" }, age(d.ageSeconds)),
              h("td", {}, h("code", {}, d.preview)),
              h(
                "td",
                { class: "actions" },
                h("button", {
                  type: "button",
                  "data-action": "replay",
                  onclick: (e) => act("replay", t.topic, d.key, e.currentTarget),
                }, "Replay"),
                h("button", {
                  type: "button",
                  "data-action": "discard",
                  onclick: (e) => act("discard", t.topic, d.key, e.currentTarget),
                }, "Discard"),
              ),
            )
          ),
        ),
        t.nextCursor
          ? h("button", {
            type: "button",
            "data-action": "older",
            onclick: (e) => loadOlder(t.topic, t.nextCursor, e.currentTarget),
          }, "older…")
          : null,
      )
    ),
  );
}

function push(store, key, value) {
  store[key] ??= new Array(series.t.length - 1).fill(null);
  store[key].push(value);
}

function renderCharts(s) {
  // The server shares one snapshot a second between pages: draw each snapshot once, or uPlot
  // gets two points at the same time.
  if (typeof uPlot === "undefined" || Date.parse(s.at) / 1000 === series.t.at(-1)) return;
  series.t.push(Date.parse(s.at) / 1000);
  series.relay.push(s.relay.eventsPerSecond);
  const groups = s.groups.ok ? s.groups.data : [];
  for (const g of groups) {
    push(series.rates, g.group, g.recordsPerSecond);
    push(series.lag, g.group, g.lag);
  }
  for (
    const arr of [
      series.t,
      series.relay,
      ...Object.values(series.rates),
      ...Object.values(series.lag),
    ]
  ) {
    while (arr.length > POINTS) arr.shift();
  }
  const names = Object.keys(series.lag);
  const colors = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2"];
  const opts = (title, series) => ({
    title,
    width: 520,
    height: 180,
    series: [
      {},
      ...series.map((label, i) => ({ label, stroke: colors[i % colors.length], width: 1.5 })),
    ],
    axes: [{}, { size: 60 }],
  });
  if (!charts || charts.names.join() !== names.join()) {
    charts?.rates.destroy();
    charts?.lag.destroy();
    charts = {
      names,
      rates: new uPlot(
        opts("events/s (relay) and records/s (groups)", ["relay", ...names]),
        [[], [], ...names.map(() => [])],
        document.getElementById("chart-rates"),
      ),
      lag: new uPlot(
        opts("consumer lag (records)", names),
        [[], ...names.map(() => [])],
        document.getElementById("chart-lag"),
      ),
    };
  }
  charts.rates.setData([series.t, series.relay, ...names.map((n) => series.rates[n])]);
  charts.lag.setData([series.t, ...names.map((n) => series.lag[n])]);
}

let inFlight = false;
async function refresh() {
  if (!ops.token() || inFlight) return;
  inFlight = true;
  try {
    const s = await call("GET", "/ops/api/snapshot");
    renderRelay(s.relay);
    renderGroups(s.groups);
    renderOrders(s.orders);
    renderDeadLetters(s.deadLetters);
    renderCharts(s);
    fill("updated", `updated ${new Date(s.at).toLocaleTimeString()}`);
    document.body.dataset.updated = s.at;
  } catch (e) {
    fill("updated", `refresh failed: ${e.message}`);
  } finally {
    inFlight = false;
  }
}

document.getElementById("order-lookup").addEventListener("submit", (e) => {
  e.preventDefault();
  const id = document.getElementById("order-id").value.trim();
  if (id) location.href = `/ops/orders/${encodeURIComponent(id)}`;
});
ops.bindLogin(refresh);
refresh();
setInterval(refresh, REFRESH_MS);
