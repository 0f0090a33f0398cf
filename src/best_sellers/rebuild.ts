/**
 * Rebuilds the best-sellers projection from the log (`deno task projections:rebuild
 * best-sellers`, docs/projections.md): with the group's consumers stopped, moves the group's
 * offsets back to the records at the window's start, then empties the projection's tables and
 * its inbox rows; the worker, started again, replays from there and answers as before.
 *
 * Offsets first, tables second: if the second step fails, the worker replays events whose inbox
 * rows are still there, which changes nothing (the old answer stays); the other order could leave
 * empty tables behind offsets that never go back.
 */
import type { Admin } from "../platform/kafka.ts";
import type { Sql } from "../platform/db.ts";
import { STATIC_SESSION_TIMEOUT_MS } from "../platform/static_membership.ts";
import { groupLag } from "../platform/lag.ts";
import { waitFor } from "../platform/wait_for.ts";
import { BEST_SELLERS_GROUP, BEST_SELLERS_TOPIC } from "./projection.ts";

const HOUR_MS = 3600_000;

/** The projection's consumers are running: nothing was changed. */
export class GroupActiveError extends Error {
  override name = "GroupActiveError";
}

export interface RebuildOptions {
  /** As the projection's role: it empties the projection's tables and its inbox rows. */
  sql: Sql;
  /** A Kafka admin client allowed to describe and move the group's offsets. */
  admin: Admin;
  /** The window to rebuild: the answer for any `hours` up to this is the same afterwards. */
  hours: number;
  /** TOPIC_RETENTION_HOURS: how long Kafka keeps records. */
  retentionHours: number;
  /**
   * How much earlier than the window the replay starts, so an order confirmed inside the window
   * but placed before it is counted (its lines are in its OrderCreated). @default one hour
   */
  leadMs?: number;
  /**
   * How long to wait for members to leave before refusing: a stopped worker is a static member
   * until its session times out. @default STATIC_SESSION_TIMEOUT_MS + 5 s
   */
  membersGoneWithinMs?: number;
  /** Progress lines. @default console.log */
  print?: (line: string) => void;
  /** The clock. @default Date.now */
  now?: () => number;
}

export interface RebuildResult {
  /** The time whose offsets the replay starts from. */
  replayFrom: Date;
  /** Per partition: the offset the group now starts from and the end of the log. */
  partitions: { partition: number; from: number; low: number; end: number }[];
  /** Records the worker will replay. */
  records: number;
  /** Partitions whose log starts after `replayFrom`: retention dropped part of the window. */
  truncated: number[];
  seconds: number;
}

async function members(admin: Admin): Promise<{ state: string; members: string[] }> {
  const { groups: [g] } = await admin.describeGroups([BEST_SELLERS_GROUP]);
  return {
    state: g?.state ?? "Dead",
    members: (g?.members ?? []).map((m) => `${m.clientId}@${m.clientHost}`),
  };
}

/**
 * Rebuilds the projection; see the module's comment.
 * @throws {GroupActiveError} while the group has members (its workers run): nothing changed.
 * @example
 * const r = await rebuildBestSellers({ sql, admin, hours: 168, retentionHours: 168 });
 */
export async function rebuildBestSellers(opts: RebuildOptions): Promise<RebuildResult> {
  const {
    sql,
    admin,
    hours,
    retentionHours,
    leadMs = HOUR_MS,
    membersGoneWithinMs = STATIC_SESSION_TIMEOUT_MS + 5000,
    print = console.log,
    now = Date.now,
  } = opts;
  if (!Number.isInteger(hours) || hours < 1) {
    throw new RangeError(
      `Cannot rebuild as 'hours' must be a positive integer: current value is ${hours}`,
    );
  }
  const started = performance.now();

  // 1. Nobody consumes: a running worker would commit its own offsets over ours.
  let group = await members(admin);
  if (group.members.length > 0) {
    print(
      `group ${BEST_SELLERS_GROUP} has ${group.members.length} member(s) (${
        group.members.join(", ")
      }); waiting up to ${
        Math.round(membersGoneWithinMs / 1000)
      } s for them to leave (a stopped worker stays a member until its session times out)`,
    );
    await waitFor(async () => (group = await members(admin)).members.length === 0, {
      timeoutMs: membersGoneWithinMs,
      intervalMs: 500,
      what: "the group to have no members",
    }).catch(() => {});
    if (group.members.length > 0) {
      throw new GroupActiveError(
        `Cannot rebuild ${BEST_SELLERS_GROUP} while its group has active members: ${
          group.members.join(", ")
        }. Stop every best-sellers worker first; nothing was changed.`,
      );
    }
  }

  // 2. Where the replay starts: the first record at or after the window's start, less the lead.
  const replayFrom = new Date(now() - hours * HOUR_MS - leadMs);
  const retentionStart = now() - retentionHours * HOUR_MS;
  print(
    `rebuilding ${BEST_SELLERS_GROUP}: window ${hours} h, replay from ${replayFrom.toISOString()}` +
      ` (the window's start less ${Math.round(leadMs / 60_000)} min for orders placed before it)`,
  );
  if (replayFrom.getTime() < retentionStart) {
    print(
      `  the replay starts before the topics' retention (${retentionHours} h): Kafka may have ` +
        `deleted records from then; each partition then replays from its earliest record`,
    );
  }
  const [byTime, ends] = await Promise.all([
    admin.fetchTopicOffsetsByTimestamp(BEST_SELLERS_TOPIC, replayFrom.getTime()),
    admin.fetchTopicOffsets(BEST_SELLERS_TOPIC),
  ]);
  const partitions = byTime.map(({ partition, offset }) => {
    const end = ends.find((e) => e.partition === partition)!;
    return {
      partition,
      from: Number(offset),
      low: Number(end.low),
      end: Number(end.high),
    };
  }).sort((a, b) => a.partition - b.partition);
  // The first record at the start is the log's first and some were deleted before it: the log
  // may not reach back to the start.
  const truncated = partitions.filter((p) => p.from === p.low && p.low > 0 && p.end > p.low)
    .map((p) => p.partition);
  const records = partitions.reduce((n, p) => n + p.end - p.from, 0);
  for (const p of partitions) {
    print(
      `  ${BEST_SELLERS_TOPIC}[${p.partition}]: from offset ${p.from} to ${p.end} ` +
        `(${p.end - p.from} records)${
          truncated.includes(p.partition)
            ? `; the log starts at ${p.low}, records before it are gone (retention)`
            : ""
        }`,
    );
  }
  if (truncated.length > 0) {
    print(
      `  partitions ${truncated.join(", ")} no longer reach back to the replay's start: the ` +
        `rebuilt answer misses orders whose events were deleted by retention, so windows ` +
        `reaching that far answer less than before`,
    );
  }

  // 3. The group's offsets, then the projection's tables and inbox rows.
  await admin.setOffsets({
    groupId: BEST_SELLERS_GROUP,
    topic: BEST_SELLERS_TOPIC,
    partitions: partitions.map((p) => ({ partition: p.partition, offset: String(p.from) })),
  });
  print(`  offsets of ${BEST_SELLERS_GROUP} moved`);
  const inbox = await sql.begin(async (tx) => {
    await tx`truncate pending_orders, hourly_units, applied_through`;
    return (await tx`delete from inbox where consumer_group = ${BEST_SELLERS_GROUP}`).count;
  });
  print(`  projection emptied (${inbox} inbox rows of ${BEST_SELLERS_GROUP} deleted)`);

  // A worker started meanwhile would have applied from the old offsets into emptied tables.
  group = await members(admin);
  if (group.members.length > 0) {
    throw new GroupActiveError(
      `A best-sellers worker joined during the rebuild (${
        group.members.join(", ")
      }); stop it and run the rebuild again.`,
    );
  }
  const seconds = (performance.now() - started) / 1000;
  print(
    `done in ${seconds.toFixed(1)} s: start the best-sellers worker(s); they replay ${records} ` +
      `records (the console's lag for group ${BEST_SELLERS_GROUP} shows the progress; the answer's ` +
      `asOf moves up to now as they catch up)`,
  );
  return { replayFrom, partitions, records, truncated, seconds };
}

/**
 * Prints the group's lag every `everyMs` until its members have replayed everything (lag 0 with
 * at least one member), or `timeoutMs` passes. For `--follow`.
 */
export async function followReplay(
  admin: Admin,
  opts: { everyMs?: number; timeoutMs?: number; print?: (line: string) => void } = {},
): Promise<void> {
  const { everyMs = 2000, timeoutMs = 3600_000, print = console.log } = opts;
  let last = -1;
  await waitFor(async () => {
    const lag = (await groupLag(admin, BEST_SELLERS_GROUP, [BEST_SELLERS_TOPIC]))
      .reduce((n, p) => n + p.lag, 0);
    const { members: m } = await members(admin);
    if (lag !== last) print(`  replay: ${lag} records behind, ${m.length} member(s)`);
    last = lag;
    return lag === 0 && m.length > 0;
  }, { timeoutMs, intervalMs: everyMs, what: `group ${BEST_SELLERS_GROUP} to catch up` });
  print("replay done");
}
