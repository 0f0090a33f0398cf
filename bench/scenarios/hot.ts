/**
 * hot: one coupon of 1,000, 20,000 distinct users, one key, one partition: the FCFS issuer's
 * decisions/s, with the issuer running during the load and draining a backlog.
 */
import { hotCoupon, type HotCouponResult } from "../hot_coupon.ts";
import { f, healthTable, ok, usageTable } from "../report_tables.ts";
import type { Scenario } from "../scenario.ts";
import { target } from "../targets.ts";

const users = (quick: boolean) => quick ? 5_000 : 20_000;

export const hot: Scenario<HotCouponResult> = {
  name: "hot",
  description: "one coupon, 20,000 users, one partition: the issuer's decisions/s",
  label: "hot coupon",
  key: "hotCoupon",
  usesGroups: true,
  run({ cfg, scratch, meter, quick }) {
    return hotCoupon(cfg, scratch, { users: users(quick), meter });
  },
  report(rs, { quick, machine }) {
    const res = ok(rs);
    const g = (fn: (r: HotCouponResult) => number) => f(res.map(fn));
    return {
      markdown: [
        `## Hot coupon (${
          users(quick).toLocaleString("en")
        } distinct users, one coupon of 1,000: one key, one partition)`,
        "",
        "| run | API accepted/s | all terminal after s | issuer decisions/s | issued |",
        "|---|---|---|---|---|",
        `| issuer running during the load | ${g((r) => r.live.acceptedPerSecond)} | ${
          g((r) => r.live.allTerminalSeconds)
        } | - | ${g((r) => r.live.issued)} |`,
        `| backlog, then the issuer started | ${g((r) => r.drain.acceptedPerSecond)} | drained in ${
          g((r) => r.drain.drainSeconds)
        } | ${g((r) => r.drain.decisionsPerSecond)} | ${g((r) => r.drain.issued)} |`,
        ...healthTable(rs),
        ...usageTable(rs, machine.cores),
      ],
      targets: [
        target(
          "hot coupon: issuer decisions/s",
          ">= 10000",
          res.map((r) => r.drain.decisionsPerSecond),
          (m) => m >= 10_000,
        ),
      ],
    };
  },
};
