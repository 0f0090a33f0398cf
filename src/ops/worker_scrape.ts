/**
 * Optional: the workers' own counters (retries by kind) from their ops ports, listed in
 * WORKER_OPS_URLS. The API cannot see another process's in-process counters any other way; a
 * worker that does not answer within a second is shown as unreachable, never waited for.
 */
import { parsePrometheus, sum } from "./prometheus.ts";

export interface WorkerCounters {
  reachable: boolean;
  retries?: { transient: number; infrastructure: number };
  error?: string;
}

export async function scrapeWorker(url: string, group: string): Promise<WorkerCounters> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(1000) });
    if (!res.ok) {
      await res.body?.cancel();
      return { reachable: false, error: `HTTP ${res.status}` };
    }
    const samples = parsePrometheus(await res.text());
    return {
      reachable: true,
      retries: {
        transient: sum(samples, "consumer_retries_total", { group, kind: "transient" }),
        infrastructure: sum(samples, "consumer_retries_total", { group, kind: "infrastructure" }),
      },
    };
  } catch (err) {
    return { reachable: false, error: err instanceof Error ? err.message : String(err) };
  }
}
