/**
 * A real Prometheus against the real processes: the API and the five workers, each scraped on its
 * ops port with the shipped scrape configuration's jobs and labels (the ports are the test
 * processes' own), and the shipped rules with every `for:` shortened to seconds (the shipped
 * values are promtool's to test: tests/unit/prometheus_rules_test.ts). Every target comes up;
 * then order-saga stops under load, its group's lag (read by the API from Kafka) passes the
 * threshold and ConsumerLagHigh fires for that group alone; order-saga starts again, catches up,
 * and the alert resolves.
 */
import assert from "node:assert/strict";
import { parse, stringify } from "yaml";
import { cfg, real } from "../helpers/stack.ts";
import { startApiProcess } from "../helpers/api_process.ts";
import { Workers } from "../helpers/workers.ts";
import { adminToken, httpApi, newUser } from "../helpers/api.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { WORKERS } from "../../src/workers.ts";
import { LOG_DIR } from "../../stack/components.ts";

const SHIPPED = new URL("../../ops/prometheus/", import.meta.url).pathname;
/**
 * The test's timeline as JSON lines on stdout (the shared logger is quieted to errors by the test
 * helpers, which run an in-process API).
 */
const log = {
  info: (msg: string, fields: Record<string, unknown> = {}) =>
    console.log(JSON.stringify({ time: new Date().toISOString(), msg, ...fields })),
};

interface Rule {
  alert?: string;
  for?: string;
}
interface Alert {
  labels: Record<string, string>;
  state: "pending" | "firing";
  activeAt: string;
}

function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return port;
}

/**
 * Writes the shipped configuration with the test processes' ports and 1 s intervals, and the
 * shipped rules with each `for:` at 5 s, ConsumerLagHigh's at 15 s, into `dir`. 15 s: a healthy
 * group may be 100 records behind for a few seconds under this test's load on 2 busy cores (the
 * shipped 5 minutes is for that), a stopped one stays behind.
 */
async function writeConfig(dir: string, apiOps: string, workerPorts: Record<string, number>) {
  const config = parse(await Deno.readTextFile(`${SHIPPED}prometheus.yml`));
  config.global = { scrape_interval: "1s", evaluation_interval: "1s", scrape_timeout: "1s" };
  for (const job of config.scrape_configs) {
    if (job.job_name === "shop-api") job.static_configs = [{ targets: [apiOps] }];
    if (job.job_name === "shop-worker") {
      for (const s of job.static_configs) {
        s.targets = [`127.0.0.1:${workerPorts[s.labels.worker]}`];
      }
    }
  }
  await Deno.writeTextFile(`${dir}/prometheus.yml`, stringify(config));
  const rules = parse(await Deno.readTextFile(`${SHIPPED}alerts.yml`));
  for (const g of rules.groups) {
    for (const r of g.rules as Rule[]) {
      if (r.for) {
        r.for = r.alert === "ConsumerLagHigh" ? "15s" : "5s";
      }
    }
  }
  await Deno.writeTextFile(`${dir}/alerts.yml`, stringify(rules));
}

Deno.test(
  "prometheus: every target up; ConsumerLagHigh fires while order-saga is stopped under load and resolves after its restart",
  real,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "shop-prometheus-" });
    const api = await startApiProcess();
    const workers = new Workers();
    // order-saga's restart, on the port it had: the scrape configuration names that port.
    let restarted: Workers | undefined;
    let prometheus: Deno.ChildProcess | undefined;
    const promLog = await Deno.open(`${LOG_DIR}/test-prometheus.log`, {
      create: true,
      append: true,
    });
    let placing = false;
    let load: Promise<void> = Promise.resolve();
    try {
      await workers.start();
      const ports = Object.fromEntries(WORKERS.map((w) => [w, workers.port(w)]));
      await writeConfig(dir, new URL(api.opsUrl).host, ports);
      const port = freePort();
      prometheus = new Deno.Command("prometheus", {
        args: [
          `--config.file=${dir}/prometheus.yml`,
          `--storage.tsdb.path=${dir}/data`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const pump = async (stream: ReadableStream<Uint8Array>) => {
        for await (const chunk of stream) await promLog.write(chunk);
      };
      const pumped = [pump(prometheus.stdout), pump(prometheus.stderr)];
      const prom = `http://127.0.0.1:${port}`;
      const get = async (path: string) => {
        const res = await fetch(`${prom}${path}`);
        assert.equal(res.status, 200, path);
        return (await res.json()).data;
      };
      const query = async (
        q: string,
      ): Promise<{ metric: Record<string, string>; value: [number, string] }[]> =>
        (await get(`/api/v1/query?query=${encodeURIComponent(q)}`)).result;
      const alerts = async (): Promise<Alert[]> => (await get("/api/v1/alerts")).alerts;
      const started = performance.now();
      const at = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;

      // Every target: the API and each worker, with the job and label the shipped config gives.
      const targets = await waitFor(async () => {
        const active = (await get("/api/v1/targets")).activeTargets as {
          labels: Record<string, string>;
          health: string;
        }[];
        return active.length === 1 + WORKERS.length && active.every((t) => t.health === "up")
          ? active
          : undefined;
      }, { timeoutMs: 60_000, intervalMs: 500, what: "every target up in Prometheus" });
      assert.deepEqual(
        targets.map((t) => `${t.labels.job}/${t.labels.worker ?? ""}`).sort(),
        ["shop-api/", ...WORKERS.map((w) => `shop-worker/${w}`)].sort(),
      );
      log.info("every target up", { after: at() });

      // The API's lag series for every group, each under the threshold and no lag alert even
      // pending before anything stops (a backlog left by earlier tests drains first).
      await waitFor(async () => {
        const lags = await query("consumer_group_lag");
        return lags.length === WORKERS.length && lags.every((s) => Number(s.value[1]) < 100) &&
          (await alerts()).every((a) => a.labels.alertname !== "ConsumerLagHigh");
      }, { timeoutMs: 120_000, intervalMs: 1000, what: "every group's lag under 100, no alert" });

      // The other series the API serves for the rules, through Prometheus: the slot's lag in
      // seconds (a healthy relay confirms within its 10 s heartbeat) and the deadline in force.
      const slot = await waitFor(
        async () => (await query('replication_slot_lag_seconds{slot="shop_outbox"}'))[0],
        { timeoutMs: 30_000, intervalMs: 500, what: "replication_slot_lag_seconds scraped" },
      );
      assert.ok(Number(slot.value[1]) < 60, `slot lag ${slot.value[1]} s`);
      const deadline = await query("orders_deadline_seconds");
      assert.deepEqual(
        deadline.map((d) => [d.metric.job, Number(d.value[1])]),
        [["shop-api", cfg.orderDeadlineMs / 1000]],
        "served by the API alone",
      );

      // Load: orders from two users, each at most one per 100 ms (about 20/s in all: a pace the
      // running groups keep up with on 2 cores); order-saga's topics get 2-3 replies per order.
      const { call } = httpApi(api.url);
      const product = await call("POST", "/products", {
        token: adminToken(),
        body: { name: "prometheus-lag", price: 1, stock: 1_000_000 },
      });
      assert.equal(product.status, 201, JSON.stringify(product.body));
      const users = Array.from({ length: 2 }, () => newUser("prom"));
      for (const u of users) {
        const r = await call("POST", "/wallet/charges", {
          token: u.token,
          body: { amount: 1_000_000 },
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
      }
      let placed = 0;
      placing = true;
      load = Promise.all(users.map(async (u) => {
        while (placing) {
          const r = await call("POST", "/orders", {
            token: u.token,
            body: { items: [{ productId: product.body.id, quantity: 1 }] },
          });
          assert.equal(r.status, 202, JSON.stringify(r.body));
          placed++;
          // A pace, not a wait for anything.
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })).then(() => {});

      const stopStatus = await workers.stop("order-saga");
      assert.equal(stopStatus?.code, 0);
      const stoppedAt = performance.now();
      log.info("order-saga stopped under load", { after: at() });

      const firing = await waitFor(async () => {
        const lag = (await alerts()).filter((a) =>
          a.labels.alertname === "ConsumerLagHigh" && a.state === "firing"
        );
        return lag.length > 0 ? lag : undefined;
      }, { timeoutMs: 120_000, intervalMs: 500, what: "ConsumerLagHigh firing" });
      const firedAfterS = (performance.now() - stoppedAt) / 1000;
      assert.deepEqual(
        firing.map((a) => a.labels.group),
        ["order-saga"],
        "the stopped group's lag alone",
      );
      const all = await alerts();
      log.info("ConsumerLagHigh firing", {
        after: at(),
        sinceStopS: firedAfterS,
        ordersPlaced: placed,
        lag: (await query('consumer_group_lag{group="order-saga"}'))[0]?.value[1],
        alerts: all.map((a) => ({ ...a.labels, state: a.state, activeAt: a.activeAt })),
      });
      // The stopped worker's own target is down too.
      assert.ok(
        all.some((a) =>
          a.labels.alertname === "ScrapeTargetDown" && a.labels.worker === "order-saga"
        ),
        "ScrapeTargetDown pending or firing for order-saga",
      );

      placing = false;
      await load;
      restarted = new Workers({ WORKER_PORT: String(ports["order-saga"]) });
      await restarted.start("order-saga");
      const restartedAt = performance.now();
      log.info("order-saga started again", { after: at() });
      await waitFor(
        async () =>
          (await alerts()).every((a) =>
            !["ConsumerLagHigh", "ScrapeTargetDown"].includes(a.labels.alertname)
          ),
        {
          timeoutMs: 120_000,
          intervalMs: 500,
          what: "ConsumerLagHigh and ScrapeTargetDown resolved",
        },
      );
      const lag = await query('consumer_group_lag{group="order-saga"}');
      assert.ok(Number(lag[0].value[1]) <= 100, `order-saga's lag ${lag[0].value[1]}`);
      log.info("resolved", {
        after: at(),
        sinceRestartS: (performance.now() - restartedAt) / 1000,
        alerts: (await alerts()).map((a) => ({ ...a.labels, state: a.state })),
      });

      prometheus.kill("SIGTERM");
      assert.equal((await prometheus.status).code, 0, "Prometheus stopped cleanly");
      prometheus = undefined;
      await Promise.all(pumped);
    } finally {
      placing = false;
      await load.catch(() => {});
      if (prometheus) {
        try {
          prometheus.kill("SIGKILL");
        } catch { /* already gone */ }
        await prometheus.status;
      }
      promLog.close();
      await workers.stopAll();
      await restarted?.stopAll();
      await api.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
