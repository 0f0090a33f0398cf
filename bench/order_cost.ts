/**
 * Per-order cost of a load window (the orders scenario's pipeline phases and the monolith):
 * statements executed by the given database roles, from pg_stat_statements (reset when the
 * window opens; BEGIN apart as transactions; the probes' `select 1` and the bench's own queries
 * left out: statement_kind.ts), and the Kafka records produced to the business topics: the
 * outbox rows of the window (the relay makes one record of each), beside how far the topics'
 * end offsets moved (those records plus the commit markers of the relay's transactions). The CPU of each process group comes from the usage
 * window of the same label (resources.ts); the scenario divides all of them by the window's
 * confirmed orders.
 *
 * pg_stat_statements is cluster-wide: the reset clears everyone's counters, and whatever another
 * client runs as the same roles meanwhile (tests on a shared stack) counts too. The bench runs
 * on a stack of its own for that reason as for the CPU figures. Without the extension (setup
 * creates it where the server loads it: src/platform/statement_stats.ts) the statements are
 * missing from the report, not guessed.
 */
import type { Sql } from "../src/platform/db.ts";
import type { Admin } from "../src/platform/kafka.ts";
import { AGGREGATE_TYPES, topicFor } from "../src/events/topics.ts";
import { statementKind } from "./statement_kind.ts";

export interface RoleStatements {
  role: string;
  /** Statements executed, transaction control and excluded queries not counted. */
  statements: number;
  /** BEGINs: explicit transactions. */
  transactions: number;
}

export interface CostWindow {
  label: string;
  /** One per role asked for, also those that ran nothing; undefined without pg_stat_statements. */
  roles?: RoleStatements[];
  /**
   * Records the relay produced: the outbox rows written in the window (each is one record on its
   * business topic).
   */
  kafkaRecords: number;
  /**
   * Offsets the business topics (`shop.<aggregate>`, no dead letters) moved by: the records and
   * the commit markers of the relay's transactions (it produces exactly-once), one per partition
   * a transaction wrote to.
   */
  kafkaOffsets: number;
}

const BUSINESS_TOPICS = AGGREGATE_TYPES.map(topicFor);

async function endOffsets(admin: Admin): Promise<number> {
  let sum = 0;
  for (const t of BUSINESS_TOPICS) {
    for (const p of await admin.fetchTopicOffsets(t)) sum += Number(p.high);
  }
  return sum;
}

/**
 * Measures windows: `window(label, roles, fn)` runs `fn` and appends the window's figures to
 * `windows`. `settle` runs before the window opens and after `fn`, before the counts are read:
 * the relay drained, so that the window's records are its own events, its last ones included.
 * Windows may not overlap.
 */
export class OrderCostMeter {
  readonly windows: CostWindow[] = [];
  #enabled: Promise<boolean>;

  constructor(
    private readonly sql: Sql,
    private readonly admin: Admin,
    private readonly settle: () => Promise<void> = () => Promise.resolve(),
  ) {
    this.#enabled = sql<{ ok: boolean }[]>`
      select exists (select 1 from pg_extension where extname = 'pg_stat_statements') as ok`
      .then(([r]) => r.ok);
  }

  async window<T>(label: string, roles: string[], fn: () => Promise<T>): Promise<T> {
    const enabled = await this.#enabled;
    // Before too: what was written before the window (the run's fixtures) is not its records.
    await this.settle();
    if (enabled) await this.sql`select public.pg_stat_statements_reset()`;
    const offsetsBefore = await endOffsets(this.admin);
    // The outbox's created_at is UTC without a zone (cleanup.ts reads it the same way).
    const [{ since }] = await this.sql<{ since: string }[]>`
      select (clock_timestamp() at time zone 'utc')::text as since`;
    const result = await fn();
    await this.settle();
    const kafkaOffsets = (await endOffsets(this.admin)) - offsetsBefore;
    const [{ n }] = await this.sql<{ n: number }[]>`
      select count(*)::int as n from platform.outbox where created_at >= ${since}::timestamp`;
    this.windows.push({
      label,
      ...(enabled ? { roles: await this.#statements(roles) } : {}),
      kafkaRecords: n,
      kafkaOffsets,
    });
    return result;
  }

  async #statements(roles: string[]): Promise<RoleStatements[]> {
    const rows = await this.sql<{ role: string; query: string; calls: string }[]>`
      select r.rolname as role, s.query, s.calls::text as calls
      from public.pg_stat_statements s join pg_roles r on r.oid = s.userid
      where s.dbid = (select oid from pg_database where datname = current_database())
        and s.toplevel and r.rolname = any(${roles})`;
    const byRole = new Map(roles.map((role) => [role, { role, statements: 0, transactions: 0 }]));
    for (const row of rows) {
      const counts = byRole.get(row.role)!;
      const kind = statementKind(row.query);
      if (kind === "statement") counts.statements += Number(row.calls);
      else if (kind === "begin") counts.transactions += Number(row.calls);
    }
    return [...byRole.values()];
  }
}
