/** GET /ops: the console's frame; its data comes from /ops/api/snapshot (admin), every second. */
import { Layout } from "./layout.tsx";

export function ConsolePage() {
  return (
    <Layout
      title="shop ops console"
      styles={["/ops/assets/uPlot.min.css"]}
      scripts={["/ops/assets/uPlot.iife.min.js", "/ops/assets/console.js"]}
    >
      <main>
        <section>
          <h2>Relay (Debezium outbox connector)</h2>
          <div id="relay">loading…</div>
        </section>
        <section>
          <h2>Orders</h2>
          <div id="orders">loading…</div>
          <h2>FCFS pending per coupon</h2>
          <div id="fcfs">loading…</div>
          <form id="order-lookup">
            <label>
              Order timeline <input id="order-id" placeholder="order id" size={38} />
            </label>{" "}
            <button type="submit">Open</button>
          </form>
        </section>
        <section class="wide">
          <h2>Consumer groups</h2>
          <div id="groups">loading…</div>
          <div class="charts">
            <div id="chart-rates"></div>
            <div id="chart-lag"></div>
          </div>
        </section>
        <section class="wide">
          <h2>Dead letters</h2>
          <p id="dlq-message"></p>
          <div id="dead-letters">loading…</div>
        </section>
      </main>
    </Layout>
  );
}
