/** GET /ops/orders/:id: the frame of one order's timeline; the data comes from the admin API. */
import { Layout } from "./layout.tsx";

export function TimelinePage(props: { orderId: string }) {
  return (
    <Layout
      title={`order ${props.orderId}`}
      scripts={["/ops/assets/timeline.js"]}
      bodyData={{ "order-id": props.orderId }}
    >
      <main>
        <section class="wide">
          <h2>Order</h2>
          <div id="order">loading…</div>
        </section>
        <section class="wide">
          <h2>Timeline: saga steps, who did them, when, under which trace</h2>
          <div id="timeline">loading…</div>
        </section>
      </main>
    </Layout>
  );
}
