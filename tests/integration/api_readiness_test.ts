/**
 * The API stays ready without Kafka: readiness depends on Postgres only, Kafka and the relay are
 * reported beside it, and orders are accepted (into the outbox) while neither answers. A real
 * API process whose Kafka and Connect addresses are closed ports stands in for an outage of both
 * (the fault suite pauses the real broker and sees the same, with the orders then completing).
 */
import assert from "node:assert/strict";
import { real } from "../helpers/stack.ts";
import { startApiProcess } from "../helpers/api_process.ts";
import { adminToken, httpApi, newUser } from "../helpers/api.ts";
import { waitFor } from "../../src/platform/wait_for.ts";

Deno.test(
  "api readiness: ready and accepting orders while Kafka and the relay are unreachable",
  real,
  async () => {
    const api = await startApiProcess({
      env: { KAFKA_BROKERS: "127.0.0.1:1", KAFKA_CONNECT_URL: "http://127.0.0.1:1" },
    });
    try {
      // The background watch reports both down (or timed out) within a round or two.
      const ready = await waitFor(async () => {
        const r = await fetch(`${api.url}/health/ready`);
        const body = await r.json();
        const seen = ["kafka", "relay"].every((d) =>
          ["down", "timeout"].includes(body.reported?.[d]?.status)
        );
        return seen ? { status: r.status, body } : undefined;
      }, { timeoutMs: 20_000, what: "Kafka and the relay reported unreachable" });
      assert.equal(ready.status, 200, JSON.stringify(ready.body));
      assert.deepEqual(ready.body.checks, { database: { status: "ok" } });
      assert.equal(ready.body.status, "ok");
      for (const d of ["kafka", "relay"]) {
        assert.equal(
          ready.body.reported[d].detail,
          undefined,
          "a state, never the client's message",
        );
        assert.ok(!Number.isNaN(Date.parse(ready.body.reported[d].at)), d);
      }

      const { call } = httpApi(api.url);
      const product = await call("POST", "/products", {
        token: adminToken(),
        body: { name: "ready-without-kafka", price: 1000, stock: 5 },
      });
      assert.equal(product.status, 201, JSON.stringify(product.body));
      const user = newUser("ready");
      assert.equal(
        (await call("POST", "/wallet/charges", { token: user.token, body: { amount: 5000 } }))
          .status,
        200,
      );
      const order = await call("POST", "/orders", {
        token: user.token,
        body: { items: [{ productId: product.body.id, quantity: 1 }] },
      });
      assert.equal(order.status, 202, JSON.stringify(order.body));
      assert.equal(order.body.status, "PENDING");
    } finally {
      await api.stop();
    }
  },
);
