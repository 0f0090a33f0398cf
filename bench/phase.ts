/** One load phase's outcome, from wrk against the API or from pgbench against the database. */
export interface Phase {
  name: string;
  connections: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  total: number;
}
