/**
 * wrk against the API process (bench/api_process.ts): POSTs with a token per request from a file,
 * rotated by bench/wrk/rotate_tokens.lua, which prints one JSON line of accepted requests and
 * latencies. The API scenario and the hot-coupon scenario load the API through it.
 */
import { API_PORT } from "./api_process.ts";
import type { Phase } from "./phase.ts";

const here = new URL(".", import.meta.url).pathname;

export async function ensureWrk(): Promise<void> {
  const has = await new Deno.Command("sh", { args: ["-c", "command -v wrk"] }).output();
  if (has.success) return;
  if (Deno.uid() !== 0) throw new Error("wrk is missing: apt-get install -y wrk");
  const out = await new Deno.Command("apt-get", { args: ["install", "-y", "wrk"] }).output();
  if (!out.success) throw new Error("could not install wrk (apt-get install -y wrk)");
}

export async function wrk(
  tokensFile: string,
  connections: number,
  seconds: number,
  method: string,
  path: string,
  body: string,
): Promise<Phase> {
  const out = await new Deno.Command("wrk", {
    args: [
      "-t2",
      `-c${connections}`,
      `-d${seconds}s`,
      "--timeout",
      "10s",
      "-s",
      `${here}wrk/rotate_tokens.lua`,
      `http://127.0.0.1:${API_PORT}`,
    ],
    env: { TOKENS_FILE: tokensFile, THREADS: "2", METHOD: method, PATH_: path, BODY: body },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith("{"));
  if (!line) throw new Error(`wrk failed: ${text}${new TextDecoder().decode(out.stderr)}`);
  const r = JSON.parse(line);
  return {
    name: "api",
    connections,
    perSecond: Math.round(r.accepted / (r.durationUs / 1e6)),
    p50Ms: r.p50Us / 1000,
    p99Ms: r.p99Us / 1000,
    total: r.accepted,
  };
}
