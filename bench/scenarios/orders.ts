/**
 * orders: 202 -> CONFIRMED latency at 50/s and 200/s, then a sweep for the highest rate with p99
 * under 1 s (orders from 200 users), through the real API process, relay and five workers.
 *
 * Beside it, its anchor: the monolith (monolith.ts), the same business work as one synchronous
 * transaction per order, at a fixed client count for as long as a sweep phase, measured right
 * before the pipeline in each run (monolith, pipeline, monolith, pipeline, ...), and the ratio of
 * the pipeline's highest rate to the monolith's. And the cost per confirmed order of each
 * (order_cost.ts): statements by role, transactions, Kafka records, CPU ms per process group.
 */
import { API_ROLE } from "../../src/app.ts";
import { SERVICES } from "../../src/workers.ts";
import { limitThenSystem, ratio } from "../alternation.ts";
import { monolithOrders, type MonolithResult } from "../monolith.ts";
import { type CostWindow, OrderCostMeter } from "../order_cost.ts";
import { type LatencyResult, orderLatency } from "../order_latency.ts";
import { drainRelay } from "../relay_drain.ts";
import { f, healthTable, hhmmss, ok, oneLine, usageTable } from "../report_tables.ts";
import type { Run, Scenario } from "../scenario.ts";
import { target } from "../targets.ts";
import { type CostCell, costTable } from "./order_cost_table.ts";
import { latencyTable, stallMs } from "./order_phases.ts";

/** The sweep stops after the first rate whose p99 is over this. */
const UNTIL_P99_MS = 1000;
const USERS = 200;
/** The monolith's window, in the usage and cost tables. */
const MONOLITH = "monolith";
/** pgbench clients: a fixed count, near where pgbench peaks on 2 cores (API pool: 8). */
const MONOLITH_CLIENTS = 8;
/**
 * Share of the monolith's orders that use a coupon (the pipeline's orders carry none: this makes
 * the monolith a little dearer, never cheaper, than the work it is compared with).
 */
const MONOLITH_COUPON_PERCENT = 10;
/** The roles whose statements are the pipeline's: the API's routes and the five workers'. */
const PIPELINE_ROLES = [API_ROLE, ...Object.values(SERVICES).map((s) => s.role)];

const phases = (quick: boolean) =>
  quick
    ? [
      { ratePerSecond: 50, seconds: 10 },
      { ratePerSecond: 200, seconds: 10 },
      ...[300, 400, 500, 600, 800, 1000].map((r) => ({ ratePerSecond: r, seconds: 5 })),
    ]
    : [
      { ratePerSecond: 50, seconds: 30 },
      { ratePerSecond: 200, seconds: 30 },
      ...[300, 400, 500, 600, 800, 1000].map((r) => ({ ratePerSecond: r, seconds: 15 })),
    ];

/** The monolith runs as long as a phase of the sweep, its neighbour. */
const monolithLoad = (quick: boolean) => ({
  clients: MONOLITH_CLIENTS,
  seconds: phases(quick).at(-1)!.seconds,
  users: USERS,
  couponPercent: MONOLITH_COUPON_PERCENT,
  couponsPerUser: 50,
});

export interface OrdersRun {
  /** The pipeline's phases, as they ran. */
  phases: LatencyResult[];
  /** Missing if it failed (`monolithError`); the pipeline is measured anyway. */
  monolith?: MonolithResult;
  monolithError?: string;
  monolithAt: string;
  pipelineAt: string;
  /** Statements and Kafka records of each window (the monolith's, each phase's). */
  cost: CostWindow[];
}

/** The highest rate of a run with p99 under the limit: the sweep stops at the first over it. */
const bestRate = (r: OrdersRun) =>
  r.phases.filter((p) => p.latencyMs.p99 <= UNTIL_P99_MS).at(-1)?.ratePerSecond ?? 0;

export const orders: Scenario<OrdersRun> = {
  name: "orders",
  description: "202 -> CONFIRMED latency at 50/s and 200/s, then the highest rate with p99 < 1 s",
  label: "orders",
  key: "orders",
  usesGroups: true,
  async run({ cfg, scratch, meter, quick, sql, admin }) {
    const cost = new OrderCostMeter(sql, admin, () => drainRelay(sql));
    const [{ owner }] = await sql<{ owner: string }[]>`select current_user as owner`;
    const pair = await limitThenSystem({
      limit: () =>
        monolithOrders(
          cfg,
          sql,
          scratch,
          monolithLoad(quick),
          (fn) => cost.window(MONOLITH, [owner], () => meter.window(MONOLITH, fn)),
        ),
      system: () =>
        orderLatency(
          cfg,
          {
            phases: phases(quick),
            untilP99Ms: UNTIL_P99_MS,
            users: USERS,
            stallMs: stallMs(quick),
            aroundPhase: (label, fn) => cost.window(label, PIPELINE_ROLES, fn),
          },
          scratch,
          meter,
        ),
    });
    // The pipeline failing fails the run, as it did before the monolith stood beside it.
    if (pair.system === undefined) throw new Error(pair.errors.at(-1));
    if (pair.limit) {
      console.log(
        `  monolith: ${pair.limit.perSecond} orders/s at ${pair.limit.clients} clients, ` +
          `${pair.limit.withCoupon}/${pair.limit.orders} with a coupon`,
      );
    }
    return {
      phases: pair.system,
      ...(pair.limit ? { monolith: pair.limit } : { monolithError: pair.errors[0] }),
      monolithAt: pair.limitAt,
      pipelineAt: pair.systemAt,
      cost: cost.windows,
    };
  },
  report(rs, { quick, machine }) {
    const phaseRuns: Run<LatencyResult[]>[] = rs.map((r) => ({ ...r, result: r.result?.phases }));
    const best = ok(rs).map(bestRate);
    const at50 = ok(rs).flatMap((r) => r.phases.filter((p) => p.ratePerSecond === 50));
    const done = rs.filter((r) => r.result);
    const ratios = ok(rs).map((r) => ratio(bestRate(r), r.monolith?.perSecond));
    const mono = ok(rs).flatMap((r) => r.monolith ? [r.monolith] : []);
    const load = monolithLoad(quick);
    const cell = (r: Run<OrdersRun>, label: string, confirmed: number): CostCell => ({
      confirmed,
      cost: r.result!.cost.find((w) => w.label === label),
      usage: r.usage.find((w) => w.label === label),
    });
    const phaseCell = (r: Run<OrdersRun>, rate: number): CostCell[] => {
      const p = r.result!.phases.find((x) => x.ratePerSecond === rate);
      return p ? [cell(r, `${rate}/s`, p.confirmed)] : [];
    };
    return {
      markdown: [
        "## Orders end to end (202 to CONFIRMED, open-loop arrivals, API + relay + 5 workers)",
        "",
        `Highest rate tried with p99 under 1 s: ${f(best)}/s (per run: ${best.join(", ")}). ` +
        "Each run: 50/s, 200/s, then rising until p99 > 1 s; orders from 200 users.",
        "",
        `Beside it, the monolith: the same business work as one synchronous transaction per order ` +
        "(bench/pgbench/monolith_order.sql: the order and its line, the coupon for " +
        `${load.couponPercent}% of orders, the wallet debit, the stock decrement, CONFIRMED, ` +
        "with the services' guards; no outbox, no inbox), pgbench at " +
        `${load.clients} clients for ${load.seconds} s as the owner, on fixtures of the same ` +
        `shape (one product, ${load.users} users), right before each run's pipeline ` +
        "(monolith, pipeline, monolith, pipeline, ...). Monolith: " +
        `${f(mono.map((m) => m.perSecond))} orders/s; pipeline / monolith: ${f(ratios)}.`,
        "",
        "| run | monolith, orders/s (at) | pipeline, highest rate with p99 < 1 s (at) | pipeline / monolith | monolith p50 / p99 ms | monolith orders with a coupon |",
        "|---|---|---|---|---|---|",
        ...done.map((r) => {
          const x = r.result!;
          const m = x.monolith;
          return `| ${r.run} | ${m ? m.perSecond : `failed: ${oneLine(x.monolithError ?? "")}`} (${
            hhmmss(x.monolithAt)
          }) | ${bestRate(x)} (${hhmmss(x.pipelineAt)}) | ${
            m ? ratio(bestRate(x), m.perSecond) : "-"
          } | ${m ? `${m.p50Ms} / ${m.p99Ms}` : "-"} | ${
            m ? `${m.withCoupon} of ${m.orders}` : "-"
          } |`;
        }),
        `| **median (min-max)** | ${f(mono.map((m) => m.perSecond))} | ${f(best)} | ${
          f(ratios)
        } | ${f(mono.map((m) => m.p50Ms))} / ${f(mono.map((m) => m.p99Ms))} | |`,
        "",
        ...latencyTable(phaseRuns),
        ...healthTable(rs),
        ...usageTable(rs, machine.cores),
        "Cost per confirmed order in each window (a phase: sending its orders until all settled; " +
        "the monolith: its pgbench run), median (min-max) of the runs. Statements: " +
        "pg_stat_statements of the API's and the workers' roles (the monolith: the owner's, " +
        "pgbench's), reset as the window opens; BEGIN counted apart as transactions (explicit " +
        "ones: a statement run on its own, as the API's are, has none), COMMIT and " +
        "ROLLBACK not counted (the monolith's transactions are pgbench's: PostgreSQL 15 counts a " +
        "prepared BEGIN once per connection), the probes' `select 1` and the bench's own queries " +
        "left out. Kafka " +
        "records: the window's outbox rows, one record each on a business topic; offsets: how " +
        "far those topics' end offsets moved, with the commit markers of the relay's " +
        "exactly-once transactions (the relay drained as the window opens and closes). CPU: " +
        "each process group's CPU time in the window (resources.ts).",
        ...costTable([
          { title: "pipeline at 200/s", cells: done.flatMap((r) => phaseCell(r, 200)) },
          {
            title: `pipeline at the highest rate (per run: ${best.join(", ")}/s)`,
            cells: done.flatMap((r) => phaseCell(r, bestRate(r.result!))),
          },
          {
            title: `monolith (${load.clients} clients)`,
            cells: done.flatMap((r) => {
              const m = r.result!.monolith;
              if (!m) return [];
              const c = cell(r, MONOLITH, m.orders);
              // One transaction per order, by the script; PostgreSQL 15's pg_stat_statements
              // counts a prepared BEGIN (pgbench -M prepared) once per connection.
              const roles = c.cost?.roles?.map((x) => ({ ...x, transactions: m.orders }));
              return [{ ...c, ...(c.cost && roles ? { cost: { ...c.cost, roles } } : {}) }];
            }),
          },
        ]),
      ],
      targets: [
        target("orders at 50/s: p99 ms", "< 150", at50.map((p) => p.latencyMs.p99), (m) => m < 150),
        target("orders: highest rate with p99 < 1 s", ">= 600/s", best, (m) => m >= 600),
        target("orders: pipeline / monolith, highest rate", ">= 0.5", ratios, (m) => m >= 0.5),
        target(
          "orders: statements per confirmed order at the highest rate",
          "<= 8",
          done.flatMap((r) =>
            phaseCell(r, bestRate(r.result!)).flatMap((c) =>
              c.cost?.roles
                ? [c.cost.roles.reduce((a, x) => a + x.statements, 0) / c.confirmed]
                : []
            )
          ),
          (m) => m <= 8,
        ),
      ],
    };
  },
};
