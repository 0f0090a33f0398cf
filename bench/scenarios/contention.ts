/**
 * contention: 200/s for 30 s from 12 users on one product: every order contends for the same
 * stock row and 12 balances, from all partitions at once.
 */
import { type LatencyResult, orderLatency } from "../order_latency.ts";
import { healthTable, ok, usageTable } from "../report_tables.ts";
import type { Scenario } from "../scenario.ts";
import { target, zeroTarget } from "../targets.ts";
import { latencyTable, stallMs } from "./order_phases.ts";

const USERS = 12;
const phase = (quick: boolean) =>
  quick ? { ratePerSecond: 200, seconds: 10 } : { ratePerSecond: 200, seconds: 30 };

export const contention: Scenario<LatencyResult[]> = {
  name: "contention",
  description: `200/s from ${USERS} users on one product: one stock row, ${USERS} balances`,
  label: "contention",
  key: "contention",
  usesGroups: true,
  run({ cfg, scratch, meter, quick }) {
    return orderLatency(
      cfg,
      { phases: [phase(quick)], users: USERS, stallMs: stallMs(quick) },
      scratch,
      meter,
    );
  },
  report(rs, { quick, machine }) {
    const p = phase(quick);
    const ps = ok(rs).flat();
    return {
      markdown: [
        `## Contention (one product, ${USERS} wallets, orders keyed by their random ids over all partitions)`,
        "",
        `${p.ratePerSecond}/s for ${p.seconds} s from ${USERS} users: ` +
        "every order takes the same stock row and one of 12 balances, from all partitions at once.",
        "",
        ...latencyTable(rs),
        ...healthTable(rs),
        ...usageTable(rs, machine.cores),
      ],
      targets: [
        zeroTarget(
          "contention: deadlocks, all runs",
          rs,
          rs.reduce((a, r) => a + r.health.deadlocks, 0),
        ),
        zeroTarget(
          "contention: dead letters, all runs",
          rs,
          rs.reduce((a, r) => a + r.health.deadLetters, 0),
        ),
        zeroTarget(
          "contention: orders not CONFIRMED, all runs",
          rs,
          ps.reduce((a, p) => a + p.sent - p.confirmed, 0),
        ),
        target("contention: p99 ms", "< 500", ps.map((p) => p.latencyMs.p99), (m) => m < 500),
      ],
    };
  },
};
