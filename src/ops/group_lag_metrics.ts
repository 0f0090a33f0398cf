/**
 * Each consumer group's lag as the API sees it from Kafka, for alerts. A worker reports its own
 * group's lag (`consumer_lag`), but a stopped or crashed worker reports nothing, which is exactly
 * when its lag grows: so the API, which outlives any worker, reads every group's committed offsets
 * in the background and serves `consumer_group_lag{group}` (one series per group: labels bounded
 * by the services the code defines). Read off the scrape path, like the database gauges.
 */
import client from "prom-client";
import type { Admin } from "../platform/kafka.ts";
import type { Logger } from "../platform/log.ts";
import { groupLag, topicEnds } from "../platform/lag.ts";
import { registry } from "../platform/metrics.ts";
import { everyRound, type Rounds } from "../platform/rounds.ts";

/** A consumer group and the topics it reads. */
export interface Group {
  group: string;
  topics: string[];
}

/**
 * Records behind the end, summed over each group's partitions, reading every topic's end once.
 * @example
 * await readGroupLag(admin, [{ group: "payment", topics: ["shop.order"] }]); // { payment: 0 }
 */
export async function readGroupLag(admin: Admin, groups: Group[]): Promise<Record<string, number>> {
  const ends = await topicEnds(admin, [...new Set(groups.flatMap((g) => g.topics))]);
  const out: Record<string, number> = {};
  for (const g of groups) {
    const partitions = await groupLag(admin, g.group, g.topics, ends);
    out[g.group] = partitions.reduce((a, p) => a + p.lag, 0);
  }
  return out;
}

let gauge: client.Gauge<"group"> | undefined;

/** The background reader of `consumer_group_lag`; see `watchGroupLag`. */
export type GroupLagWatch = Rounds;

/**
 * Reads every group's lag now and then every `intervalMs` after the previous read ended. A failed
 * read (Kafka unreachable) removes the series rather than serving old numbers: the lag is unknown
 * then, and `dependency_up{dependency="kafka"}` says why. `admin` is connected here on first use
 * and again after a failure. Call it once per process.
 */
export function watchGroupLag(
  admin: Admin,
  groups: Group[],
  opts: { intervalMs?: number; log?: Logger } = {},
): GroupLagWatch {
  const { intervalMs = 5000, log } = opts;
  const g = gauge ??= new client.Gauge({
    name: "consumer_group_lag",
    help: "Records behind the end of the group's topics, summed over partitions, read by the API " +
      "from Kafka (present while the group's workers are down)",
    labelNames: ["group"] as const,
    registers: [registry],
  });
  let connected: Promise<void> | undefined;
  let failing = false;
  const round = async () => {
    try {
      connected ??= admin.connect();
      await connected;
      const lags = await readGroupLag(admin, groups);
      g.reset();
      for (const [group, lag] of Object.entries(lags)) g.set({ group }, lag);
      if (failing) log?.info("consumer group lag read again");
      failing = false;
    } catch (err) {
      connected = undefined;
      g.reset();
      // Logged on a change only: Kafka away for an hour is one line, not 720.
      if (!failing) log?.warn("consumer group lag not read; series removed", { error: err });
      failing = true;
    }
  };
  return everyRound(round, intervalMs);
}
