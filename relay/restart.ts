/**
 * A relay whose connector or task FAILED stays FAILED: Kafka Connect restarts neither by itself
 * (Debezium restarts the connector on the errors it deems retriable, `retriable.restart.
 * connector.wait.ms`; anything else fails the task for good). The API's relay watch asks Connect
 * to restart what failed, after a wait that doubles while it keeps failing, logs it and counts it
 * (`relay_restarts_total`, an alert's input: a relay that fails again after every restart needs
 * a person).
 */
import type { ConnectorStatus } from "./register.ts";

/** What failed in `s` (the connector's or a task's trace), or undefined if nothing did. */
export function failedTrace(s: ConnectorStatus | undefined): string | undefined {
  if (!s) return undefined;
  if (s.connector.state === "FAILED") return s.connector.trace ?? "connector FAILED";
  const t = s.tasks.find((t) => t.state === "FAILED");
  return t ? (t.trace ?? `task ${t.id} FAILED`) : undefined;
}

/**
 * POST /connectors/:name/restart restarting the connector and its FAILED tasks only (KIP-745):
 * a task that runs is left alone, so several API instances asking at once restart it once.
 */
export async function restartFailed(connectUrl: string, name: string): Promise<void> {
  const res = await fetch(
    `${connectUrl}/connectors/${name}/restart?includeTasks=true&onlyFailed=true`,
    { method: "POST", signal: AbortSignal.timeout(5000) },
  );
  const body = await res.text();
  // 202 with the restart plan, 204 when nothing was to restart.
  if (!res.ok) throw new Error(`Connect answered ${res.status} to the restart: ${body}`);
}

export interface RestartBackoff {
  /** First wait after a restart that failed again. @default 10000 */
  firstMs?: number;
  /** Longest wait between restarts. @default 300000 */
  maxMs?: number;
  /** Running this long after a restart clears the doubling. @default 600000 */
  resetAfterMs?: number;
}

/**
 * When to restart: at once the first time, then after 10 s, 20 s, 40 s ... up to 5 min while it
 * keeps failing (a poison record or a revoked grant fails every restart: retrying every few
 * seconds would only fill the log), back to at once after 10 min of running.
 */
export function restartSchedule(opts: RestartBackoff = {}) {
  const { firstMs = 10_000, maxMs = 300_000, resetAfterMs = 600_000 } = opts;
  let lastRestart: number | undefined;
  /** How long after `lastRestart` the next restart may come. */
  let wait = 0;
  let runningSince: number | undefined;
  return {
    /** Whether to restart now, given whether something is FAILED at `now` (ms). */
    due(failed: boolean, now: number): boolean {
      if (!failed) {
        runningSince ??= now;
        if (now - runningSince >= resetAfterMs) [lastRestart, wait] = [undefined, 0];
        return false;
      }
      runningSince = undefined;
      if (lastRestart !== undefined && now - lastRestart < wait) return false;
      wait = wait === 0 ? firstMs : Math.min(maxMs, wait * 2);
      lastRestart = now;
      return true;
    },
  };
}
