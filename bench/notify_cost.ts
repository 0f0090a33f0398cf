/**
 * `deno run -A bench/notify_cost.ts [--rounds N] [--orders M] [--connections C] [--per-tx K]`: what the
 * decision trigger's NOTIFY (migrations/0013) costs the statements that decide orders. Postgres
 * serializes the commits of transactions that notified (one lock for the whole cluster), so this
 * measures the saga's confirming UPDATE, each in its own transaction, from C connections at once,
 * with the trigger firing and with it skipped (`session_replication_role = replica`, local to the
 * transaction, so nothing else on the database is affected), alternating, while one connection
 * listens as the API's does. Both variants run the same statements: only the NOTIFY differs.
 *
 * The figure is an upper bound of the cost: the real saga transaction also claims its inbox row,
 * reads the order and writes the outbox, so its commit is a smaller share of its time.
 */
import { parseConfig } from "../src/platform/config.ts";
import { connect } from "../src/platform/db.ts";
import { uuidv7 } from "../src/platform/uuidv7.ts";
import { percentile } from "./stats.ts";

const arg = (name: string, fallback: number) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
};
const rounds = arg("rounds", 3);
const orders = arg("orders", 2000);
const connections = arg("connections", 8);
/** Orders decided per transaction: 1 is the worst case; the saga decides a run of records per one. */
const perTx = arg("per-tx", 1);

const cfg = parseConfig(Deno.env.toObject());
const sql = connect(cfg.databaseUrl, { max: connections, applicationName: "bench-notify" });
let heard = 0;
const listener = connect(cfg.databaseUrl, {
  max: 1,
  applicationName: "bench-notify-listen",
  onnotify: () => heard++,
});
await listener`listen order_decided`;
const user = `bench-notify-${crypto.randomUUID().slice(0, 8)}`;

async function round(notify: boolean): Promise<{ ordersPerS: number; p99Ms: number }> {
  const ids = Array.from({ length: orders }, () => uuidv7());
  await sql`
    insert into orders.orders (id, user_id, total_amount, discount_amount, payment_amount,
                               deadline_at)
    select id, ${user}, 100, 0, 100, now() + interval '1 hour' from unnest(${ids}::uuid[]) as id`;
  const role = notify ? "origin" : "replica";
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, async () => {
    while (next < ids.length) {
      const batch = ids.slice(next, next += perTx);
      const t = performance.now();
      await sql.begin(async (tx) => {
        await tx`select set_config('session_replication_role', ${role}, true)`;
        await tx`
          update orders.orders set status = 'CONFIRMED', updated_at = now()
          where id = any(${batch}::uuid[])`;
      });
      latencies.push(performance.now() - t);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { ordersPerS: orders / seconds, p99Ms: percentile(latencies, 0.99) };
}

const results: Record<"with" | "without", { ordersPerS: number; p99Ms: number }[]> = {
  with: [],
  without: [],
};
try {
  for (let r = 0; r < rounds; r++) {
    // Alternating, so both variants share the machine's state of the moment.
    results.without.push(await round(false));
    results.with.push(await round(true));
  }
} finally {
  await sql`delete from orders.orders where user_id = ${user}`;
  await Promise.all([sql.end(), listener.end()]);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const k of ["without", "with"] as const) {
  const rs = results[k];
  console.log(
    `${k.padEnd(7)} NOTIFY: ${rs.map((r) => r.ordersPerS.toFixed(0)).join(", ")} orders/s ` +
      `(median ${median(rs.map((r) => r.ordersPerS)).toFixed(0)}), p99 per transaction ${
        rs.map((r) => r.p99Ms.toFixed(1)).join(", ")
      } ms`,
  );
}
console.log(
  `notifications heard: ${heard} (expected ${rounds * orders}); ${rounds} rounds of ${orders} ` +
    `orders from ${connections} connections, ${perTx} per transaction`,
);
