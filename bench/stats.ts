/** Percentiles and a fixed-format summary for latency samples in milliseconds. */
export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of `sorted` (ascending), `q` in [0, 1]. */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export function summarize(samples: number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    n: s.length,
    p50: r(percentile(s, 0.5)),
    p95: r(percentile(s, 0.95)),
    p99: r(percentile(s, 0.99)),
    max: r(s[s.length - 1] ?? NaN),
  };
}

/**
 * One figure over repeated runs: the runs drift (a shared 2-core machine varies by several
 * times within an hour), so the report gives the median and the range, never one run alone.
 */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** The value of each run, in run order. */
  runs: number[];
}

export function spread(values: number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x));
  const s = [...v].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length === 0 ? NaN : s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { median: r(median), min: r(s[0] ?? NaN), max: r(s.at(-1) ?? NaN), runs: values };
}

/** `median (min-max)`, or the single value when every run agrees or there is one run. */
export function fmtSpread(s: Spread): string {
  if (!Number.isFinite(s.median)) return "-";
  return s.min === s.max ? `${s.median}` : `${s.median} (${s.min}-${s.max})`;
}
