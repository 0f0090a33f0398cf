/**
 * Dead letters: page, find, replay, discard; used by the ops console and by `deno task dlq`
 * (src/main/dlq.ts).
 *
 * A dead letter is a record of `<topic>.dlq`, named by its coordinates there (`partition@offset`)
 * whatever its headers; it can also be found by its origin coordinates (`topic/partition@offset`,
 * its `dlq.origin.*` headers) or its event id, through `dead_letter_log`, which the worker wrote
 * before producing it. Topics are read by offset ranges, a page at a time, never whole.
 *
 * A replay re-inserts the dead-lettered event into the outbox (same id, type, version, payload
 * and trace context; aggregate type and id such that the relay routes it back to the origin topic
 * and key), in one transaction with its record in `dead_letter_replays`: only the relay writes a
 * business topic. A record that cannot be an event (no UUID id, no type, no key, no JSON value)
 * cannot be replayed, only discarded (`dead_letter_discards`). Each dead letter is settled once:
 * replayed or discarded, never both, never twice. The consumers' inbox makes a replay of an event
 * a group already applied a no-op for that group.
 */
import type { Sql, Tx } from "../platform/db.ts";
import type { Kafka } from "../platform/kafka.ts";
import { type OffsetRange, readRanges } from "../platform/read_ranges.ts";
import type { TopicRecord } from "../platform/read_topic.ts";
import { AGGREGATE_TYPE_PATTERN } from "../platform/publish.ts";
import { dlqTopicFor, TOPIC_PREFIX } from "../events/topics.ts";

export interface DeadLetter {
  dlqTopic: string;
  dlqPartition: number;
  dlqOffset: string;
  id: string | undefined;
  eventType: string | undefined;
  origin: { topic: string; partition: number; offset: string };
  group: string;
  errorClass: string;
  errorMessage: string;
  at: string | undefined;
  record: TopicRecord;
}

/** `partition@offset` in the DLQ topic: names a dead letter whatever its headers. */
export const dlqKey = (d: Pick<DeadLetter, "dlqPartition" | "dlqOffset">) =>
  `${d.dlqPartition}@${d.dlqOffset}`;

/** `topic/partition@offset` of the record that was dead-lettered. */
export const originKey = (d: Pick<DeadLetter, "origin">) =>
  `${d.origin.topic}/${d.origin.partition}@${d.origin.offset || "?"}`;

/** `topic` if it is a DLQ topic, else its DLQ topic. */
export const dlqName = (topic: string) => topic.endsWith(".dlq") ? topic : dlqTopicFor(topic);

/** The topic whose dead letters `topic` (a topic or its DLQ) holds. */
export const originName = (topic: string) =>
  topic.endsWith(".dlq") ? topic.slice(0, -".dlq".length) : topic;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How a dead letter is named: DLQ coordinates, origin coordinates, or event id. */
export type Address =
  | { kind: "dlq"; partition: number; offset: bigint }
  | { kind: "origin"; topic: string; partition: number; offset: bigint }
  | { kind: "event"; id: string };

const DLQ_ADDRESS = /^(\d{1,9})@(\d{1,18})$/;
const ORIGIN_ADDRESS = /^([A-Za-z0-9._-]{1,249})\/(\d{1,9})@(\d{1,18})$/;

/**
 * Reads an address: `partition@offset` (in the DLQ topic), `topic/partition@offset` (origin
 * coordinates) or an event id (a UUID). Undefined for anything else.
 */
export function parseAddress(text: string): Address | undefined {
  let m = DLQ_ADDRESS.exec(text);
  if (m) return { kind: "dlq", partition: Number(m[1]), offset: BigInt(m[2]) };
  m = ORIGIN_ADDRESS.exec(text);
  if (m) return { kind: "origin", topic: m[1], partition: Number(m[2]), offset: BigInt(m[3]) };
  if (UUID.test(text)) return { kind: "event", id: text.toLowerCase() };
  return undefined;
}

/** Why a selection of dead letters was refused; nothing was written. */
export class DeadLetterError extends Error {
  override name = "DeadLetterError";
  constructor(
    /** unknown: no such dead letter; notAnEvent: cannot be replayed; settled: decided before. */
    readonly kind: "unknown" | "notAnEvent" | "settled",
    message: string,
    /** Each address (as asked) or dead letter key at fault, and why. */
    readonly items: { address: string; message: string }[],
  ) {
    super(message);
  }
}

function toDeadLetter(dlqTopic: string, r: TopicRecord): DeadLetter {
  const h = r.headers;
  return {
    dlqTopic,
    dlqPartition: r.partition,
    dlqOffset: r.offset,
    id: h.id,
    eventType: h.eventType,
    origin: {
      topic: h["dlq.origin.topic"] ?? originName(dlqTopic),
      partition: Number(h["dlq.origin.partition"] ?? r.partition),
      offset: h["dlq.origin.offset"] ?? "",
    },
    group: h["dlq.group"] ?? "",
    errorClass: h["dlq.error.class"] ?? "",
    errorMessage: h["dlq.error.message"] ?? "",
    at: h["dlq.at"],
    record: r,
  };
}

type Watermarks = Map<number, { low: bigint; high: bigint }>;

async function watermarks(kafka: Kafka, topic: string): Promise<Watermarks> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(
      offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]),
    );
  } finally {
    await admin.disconnect();
  }
}

/** A page's position: per partition, the offset the next (older) page reads below. */
function encodeCursor(before: Map<number, bigint>): string {
  return [...before].sort(([a], [b]) => a - b).map(([p, o]) => `${p}:${o}`).join(",");
}

/** Parses a cursor from `encodeCursor`; undefined if it is not one. */
export function decodeCursor(text: string): Map<number, bigint> | undefined {
  const before = new Map<number, bigint>();
  for (const part of text.split(",")) {
    const m = /^(\d{1,9}):(\d{1,18})$/.exec(part);
    if (!m || before.has(Number(m[1]))) return undefined;
    before.set(Number(m[1]), BigInt(m[2]));
  }
  return before.size > 0 ? before : undefined;
}

export interface DeadLetterPage {
  /** Newest first (by when they were dead-lettered; the DLQ offset breaks ties). */
  letters: DeadLetter[];
  /** Where the next, older page starts; null when this page reached every partition's start. */
  nextCursor: string | null;
}

export interface PageOptions {
  /** Records per page. @default 50 */
  limit?: number;
  /** A `nextCursor` of an earlier page; the newest page without. */
  before?: string;
}

const when = (d: DeadLetter) => {
  const t = d.at ? Date.parse(d.at) : Number(d.record.timestamp);
  return Number.isFinite(t) ? t : 0;
};

/**
 * One page of `topic`'s dead letters (the origin topic or its `.dlq`), newest first: the `limit`
 * newest records below the cursor. Reads at most `limit` records of each partition, never the
 * whole topic. Settled (replayed or discarded) dead letters are included; see `settlements`.
 */
export async function pageDeadLetters(
  kafka: Kafka,
  topic: string,
  opts: PageOptions = {},
): Promise<DeadLetterPage> {
  const { limit = 50 } = opts;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new RangeError(
      `Cannot page dead letters as 'limit' must be an integer in 1..1000: current value is ${limit}`,
    );
  }
  const dlqTopic = dlqName(topic);
  const marks = await watermarks(kafka, dlqTopic);
  const cursor = opts.before === undefined ? undefined : decodeCursor(opts.before);
  if (opts.before !== undefined && !cursor) {
    throw new RangeError(
      `Cannot page dead letters as 'before' must be a cursor of an earlier page: current value is ${
        JSON.stringify(opts.before)
      }`,
    );
  }
  const before = new Map<number, bigint>();
  for (const [p, m] of marks) {
    const b = cursor?.get(p) ?? m.high;
    before.set(p, b > m.high ? m.high : b);
  }
  const ranges: OffsetRange[] = [];
  for (const [p, b] of before) {
    const low = marks.get(p)!.low;
    if (b > low) {
      const from = b - BigInt(limit) > low ? b - BigInt(limit) : low;
      ranges.push({ partition: p, from, to: b });
    }
  }
  const candidates = (await readRanges(kafka, dlqTopic, ranges))
    .map((r) => toDeadLetter(dlqTopic, r))
    .sort((a, b) =>
      when(b) - when(a) || b.dlqPartition - a.dlqPartition ||
      Number(BigInt(b.dlqOffset) - BigInt(a.dlqOffset))
    );
  const letters = candidates.slice(0, limit);
  // Each partition's next page starts below the oldest record taken from it; a partition that
  // gave nothing to this page keeps its position.
  for (const d of letters) {
    const o = BigInt(d.dlqOffset);
    if (o < before.get(d.dlqPartition)!) before.set(d.dlqPartition, o);
  }
  const more = [...before].some(([p, b]) => b > marks.get(p)!.low);
  return { letters, nextCursor: more ? encodeCursor(before) : null };
}

/** Every page of `topic`, newest first, one page in memory at a time. */
export async function* allPages(
  kafka: Kafka,
  topic: string,
  limit = 200,
): AsyncGenerator<DeadLetter[]> {
  let before: string | undefined;
  do {
    const page = await pageDeadLetters(kafka, topic, { limit, before });
    yield page.letters;
    before = page.nextCursor ?? undefined;
  } while (before);
}

/** The first dead letter of `topic`, newest first, that `match` accepts; paged. */
export async function findDeadLetter(
  kafka: Kafka,
  topic: string,
  match: (d: DeadLetter) => boolean,
): Promise<DeadLetter | undefined> {
  for await (const page of allPages(kafka, topic)) {
    const found = page.find(match);
    if (found) return found;
  }
  return undefined;
}

export interface Settlement {
  action: "replayed" | "discarded";
  by: string | null;
  at: Date;
}

/** How each of `letters` was settled, by `dlqKey`; open ones are absent. */
export async function settlements(
  sql: Sql | Tx,
  letters: DeadLetter[],
): Promise<Map<string, Settlement>> {
  if (letters.length === 0) return new Map();
  const topics = letters.map((d) => d.dlqTopic);
  const partitions = letters.map((d) => d.dlqPartition);
  const offsets = letters.map((d) => d.dlqOffset);
  const rows = await sql<
    { topic: string; key: string; action: Settlement["action"]; by: string | null; at: Date }[]
  >`
    with asked as (
      select * from unnest(${topics}::text[], ${partitions}::int[], ${offsets}::bigint[])
        as a(topic, partition, "offset")
    )
    select a.topic, a.partition || '@' || a."offset" as key, 'replayed' as action,
           r.replayed_by as by, r.replayed_at as at
    from asked a join dead_letter_replays r
      on (r.dlq_topic, r.dlq_partition, r.dlq_offset) = (a.topic, a.partition, a."offset")
    union all
    select a.topic, a.partition || '@' || a."offset", 'discarded', d.discarded_by, d.discarded_at
    from asked a join dead_letter_discards d
      on (d.dlq_topic, d.dlq_partition, d.dlq_offset) = (a.topic, a.partition, a."offset")`;
  return new Map(rows.map((r) => [r.key, { action: r.action, by: r.by, at: r.at }]));
}

/** The dead letters of `letters` neither replayed nor discarded. */
export async function openOnly(sql: Sql, letters: DeadLetter[]): Promise<DeadLetter[]> {
  const settled = await settlements(sql, letters);
  return letters.filter((d) => !settled.has(dlqKey(d)));
}

/** Each partition's low and high watermark (first offset held, next offset to be written). */
export interface PartitionMarks {
  partition: number;
  low: number;
  high: number;
}

/** The watermarks of `topic`'s DLQ partitions. */
export async function dlqMarks(kafka: Kafka, topic: string): Promise<PartitionMarks[]> {
  const marks = await watermarks(kafka, dlqName(topic));
  return [...marks].map(([partition, m]) => ({
    partition,
    low: Number(m.low),
    high: Number(m.high),
  }));
}

/**
 * How many dead letters of `topic` are open, given its DLQ's watermarks: the records Kafka still
 * holds minus those settled (one query, no read of the topic). A copy produced again after a
 * crash during the first produce counts as one more.
 */
export async function countOpen(
  sql: Sql,
  topic: string,
  marks: PartitionMarks[],
): Promise<number> {
  const total = marks.reduce((n, m) => n + Math.max(0, m.high - m.low), 0);
  if (total === 0) return 0;
  const dlqTopic = dlqName(topic);
  const [{ n }] = await sql<{ n: number }[]>`
    with held as (
      select * from unnest(${marks.map((m) => m.partition)}::int[],
                           ${marks.map((m) => String(m.low))}::bigint[],
                           ${marks.map((m) => String(m.high))}::bigint[]) as h(partition, low, high)
    )
    select count(*)::int as n from (
      select dlq_partition, dlq_offset from dead_letter_replays where dlq_topic = ${dlqTopic}
      union
      select dlq_partition, dlq_offset from dead_letter_discards where dlq_topic = ${dlqTopic}
    ) s join held h on h.partition = s.dlq_partition and s.dlq_offset >= h.low
                   and s.dlq_offset < h.high`;
  return Math.max(0, total - n);
}

/** Reads the dead letters at `keys` (partition, offset) of `dlqTopic`; one read per round. */
async function readAt(
  kafka: Kafka,
  dlqTopic: string,
  keys: { partition: number; offset: bigint }[],
): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  const left = [...keys];
  while (left.length > 0) {
    // One range per partition per read: the first key of each partition now, the rest after.
    const round = new Map<number, bigint>();
    for (let i = 0; i < left.length;) {
      if (round.has(left[i].partition)) i++;
      else round.set(left[i].partition, left.splice(i, 1)[0].offset);
    }
    const records = await readRanges(
      kafka,
      dlqTopic,
      [...round].map(([partition, offset]) => ({ partition, from: offset, to: offset + 1n })),
    );
    out.push(...records.map((r) => toDeadLetter(dlqTopic, r)));
  }
  return out;
}

/**
 * The dead letters `addresses` name in `topic`'s DLQ, each once; throws `DeadLetterError`
 * ("unknown") naming every address that names none. DLQ coordinates must be within what Kafka
 * holds; origin coordinates and event ids are looked up in `dead_letter_log`, which gives the
 * DLQ offset the worker stamped (a dead letter recorded before that was stamped is found by
 * paging its DLQ partition, newest first).
 */
export async function findDeadLetters(
  kafka: Kafka,
  sql: Sql,
  topic: string,
  addresses: string[],
): Promise<DeadLetter[]> {
  const dlqTopic = dlqName(topic);
  const origin = originName(topic);
  const marks = await watermarks(kafka, dlqTopic);
  const held = (p: number, o: bigint) => {
    const m = marks.get(p);
    return m !== undefined && o >= m.low && o < m.high;
  };
  const unknown: { address: string; message: string }[] = [];
  const wanted = new Map<string, { partition: number; offset: bigint; asked: string[] }>();
  const want = (partition: number, offset: bigint, asked: string) => {
    const k = `${partition}@${offset}`;
    const w = wanted.get(k) ?? { partition, offset, asked: [] };
    w.asked.push(asked);
    wanted.set(k, w);
  };
  // Origin records whose dead letter's DLQ offset was never stamped: searched by paging.
  const unstamped: { asked: string; partition: number; offset: string; group: string }[] = [];
  for (const text of addresses) {
    const a = parseAddress(text);
    if (!a) {
      unknown.push({
        address: text,
        message: "not partition@offset, topic/partition@offset or a UUID",
      });
      continue;
    }
    if (a.kind === "dlq") {
      if (held(a.partition, a.offset)) want(a.partition, a.offset, text);
      else unknown.push({ address: text, message: `no record at ${text} in ${dlqTopic}` });
      continue;
    }
    if (a.kind === "origin" && a.topic !== origin) {
      unknown.push({ address: text, message: `${dlqTopic} holds dead letters of ${origin} only` });
      continue;
    }
    const rows = await sql<
      { group: string; partition: number; offset: string; dlq_offset: string | null }[]
    >`
      select consumer_group as group, partition, "offset"::text as offset,
             dlq_offset::text as dlq_offset
      from dead_letter_log
      where topic = ${origin} and ${
      a.kind === "event"
        ? sql`event_id = ${a.id}::uuid`
        : sql`partition = ${a.partition} and "offset" = ${String(a.offset)}::bigint`
    } and produced_at is not null`;
    let named = 0;
    for (const r of rows) {
      if (r.dlq_offset !== null) {
        if (held(r.partition, BigInt(r.dlq_offset))) {
          want(r.partition, BigInt(r.dlq_offset), text);
          named++;
        }
      } else {
        unstamped.push({ asked: text, partition: r.partition, offset: r.offset, group: r.group });
        named++;
      }
    }
    if (named === 0) {
      unknown.push({ address: text, message: `no dead letter of ${text} in ${dlqTopic}` });
    }
  }
  const found = await readAt(kafka, dlqTopic, [...wanted.values()]);
  for (const u of unstamped) {
    const d = await findDeadLetter(
      kafka,
      dlqTopic,
      (d) =>
        d.dlqPartition === u.partition && d.origin.partition === u.partition &&
        d.origin.offset === u.offset && d.group === u.group,
    );
    if (d) found.push(d);
    else unknown.push({ address: u.asked, message: `no dead letter of ${u.asked} in ${dlqTopic}` });
  }
  if (unknown.length > 0) {
    throw new DeadLetterError(
      "unknown",
      `No such dead letter in ${dlqTopic}: ${unknown.map((u) => u.address).join(", ")}`,
      unknown,
    );
  }
  const seen = new Set<string>();
  return found.filter((d) => !seen.has(dlqKey(d)) && seen.add(dlqKey(d)));
}

/** An outbox row that makes the relay write `d`'s event again, or why it cannot be one. */
export function outboxRowOf(d: DeadLetter):
  | {
    ok: true;
    row: {
      id: string;
      aggregateType: string;
      aggregateId: string;
      type: string;
      version: number;
      payload: string;
      traceparent: string | null;
    };
  }
  | { ok: false; reason: string } {
  const h = d.record.headers;
  const origin = originName(d.dlqTopic);
  if (!h.id || !UUID.test(h.id)) {
    return { ok: false, reason: `its id header (${JSON.stringify(h.id ?? null)}) is not a UUID` };
  }
  if (!h.eventType) return { ok: false, reason: "it has no eventType header" };
  const version = h.eventVersion === undefined ? NaN : Number(h.eventVersion);
  if (!Number.isInteger(version) || version < 1 || version > 32767) {
    return { ok: false, reason: "its eventVersion header is not a version (1..32767)" };
  }
  // The relay routes `shop.<aggregatetype>` with key = aggregate id (relay/connector.json).
  const aggregateType = origin.startsWith(TOPIC_PREFIX) ? origin.slice(TOPIC_PREFIX.length) : "";
  if (!AGGREGATE_TYPE_PATTERN.test(aggregateType)) {
    return { ok: false, reason: `the relay routes no aggregate type to ${origin}` };
  }
  const key = d.record.key?.toString("utf8");
  if (!key) return { ok: false, reason: "it has no key (the aggregate id)" };
  const value = d.record.value?.toString("utf8") ?? "";
  try {
    JSON.parse(value);
  } catch {
    return { ok: false, reason: "its value is not JSON (the outbox payload is jsonb)" };
  }
  if (value.includes("\u0000")) return { ok: false, reason: "its value holds a NUL character" };
  return {
    ok: true,
    row: {
      id: h.id.toLowerCase(),
      aggregateType,
      aggregateId: key,
      type: h.eventType,
      version,
      payload: value,
      traceparent: h.traceparent ?? null,
    },
  };
}

/**
 * Serialises decisions on the same dead letters (replay vs discard, twice at once) and refuses
 * any already settled. Inside `tx`.
 */
async function lockOpen(tx: Tx, letters: DeadLetter[]): Promise<void> {
  const keys = letters.map((d) => `${d.dlqTopic}/${dlqKey(d)}`).sort();
  await tx`select pg_advisory_xact_lock(hashtextextended(k, 0)) from unnest(${keys}::text[]) k`;
  const settled = await settlements(tx, letters);
  if (settled.size > 0) {
    throw new DeadLetterError(
      "settled",
      `Already settled in ${letters[0].dlqTopic}: ${[...settled.keys()].join(", ")}`,
      [...settled].map(([key, s]) => ({
        address: key,
        message: `${s.action}${s.by ? ` by ${s.by}` : ""} at ${s.at.toISOString()}`,
      })),
    );
  }
}

/**
 * Records `letters` as discarded by `by` (an operator's sub): they leave the open list and a
 * replay of "all". One transaction; throws `DeadLetterError` ("settled") if any was replayed or
 * discarded before, writing nothing.
 */
export async function discardDeadLetters(
  sql: Sql,
  letters: DeadLetter[],
  by: string,
): Promise<DeadLetter[]> {
  if (letters.length === 0) return [];
  await sql.begin(async (tx) => {
    await lockOpen(tx, letters);
    await tx`
      insert into dead_letter_discards (dlq_topic, dlq_partition, dlq_offset, event_id, discarded_by)
      select *, ${by} from unnest(
        ${letters.map((d) => d.dlqTopic)}::text[], ${letters.map((d) => d.dlqPartition)}::int[],
        ${letters.map((d) => d.dlqOffset)}::bigint[],
        ${letters.map((d) => d.id?.slice(0, 1000) ?? null)}::text[])`;
  });
  return letters;
}

/**
 * Replays `letters` through the outbox: each event again as an outbox row (same id, payload,
 * type, version, trace context, routed back to its origin topic and key), and its record in
 * `dead_letter_replays`, in one transaction. Throws `DeadLetterError` and writes nothing if any
 * cannot be an event ("notAnEvent") or was settled before ("settled").
 */
export async function replayDeadLetters(
  sql: Sql,
  letters: DeadLetter[],
  by: string,
): Promise<DeadLetter[]> {
  if (letters.length === 0) return [];
  const rows = letters.map((d) => ({ d, r: outboxRowOf(d) }));
  const refused = rows.filter((x) => !x.r.ok);
  if (refused.length > 0) {
    throw new DeadLetterError(
      "notAnEvent",
      `Cannot replay through the outbox what is not an event (discard it instead): ${
        refused.map((x) => dlqKey(x.d)).join(", ")
      }`,
      refused.map((x) => ({
        address: dlqKey(x.d),
        message: `cannot be replayed: ${(x.r as { reason: string }).reason}`,
      })),
    );
  }
  const events = rows.map((x) =>
    (x.r as Extract<ReturnType<typeof outboxRowOf>, { ok: true }>).row
  );
  await sql.begin(async (tx) => {
    await lockOpen(tx, letters);
    await tx`
      insert into outbox (id, aggregatetype, aggregateid, type, version, payload, traceparent,
                          replayed_from)
      select id, aggregatetype, aggregateid, type, version, payload::jsonb, traceparent, replayed_from
      from unnest(
        ${events.map((e) => e.id)}::uuid[], ${events.map((e) => e.aggregateType)}::text[],
        ${events.map((e) => e.aggregateId)}::text[], ${events.map((e) => e.type)}::text[],
        ${events.map((e) => e.version)}::smallint[], ${events.map((e) => e.payload)}::text[],
        ${events.map((e) => e.traceparent)}::text[],
        ${letters.map((d) => `${d.dlqTopic}/${dlqKey(d)}`)}::text[]
      ) as e(id, aggregatetype, aggregateid, type, version, payload, traceparent, replayed_from)`;
    await tx`
      insert into dead_letter_replays (dlq_topic, dlq_partition, dlq_offset, event_id, replayed_by)
      select *, ${by} from unnest(
        ${letters.map((d) => d.dlqTopic)}::text[], ${letters.map((d) => d.dlqPartition)}::int[],
        ${letters.map((d) => d.dlqOffset)}::bigint[], ${events.map((e) => e.id)}::uuid[])`;
  });
  return letters;
}

/**
 * Every dead letter of `topic`, oldest first per partition, `chunk` records of one partition at
 * a time (a key's dead letters are in one partition, in the order they were dead-lettered).
 */
export async function* oldestFirst(
  kafka: Kafka,
  topic: string,
  chunk = 200,
): AsyncGenerator<DeadLetter[]> {
  const dlqTopic = dlqName(topic);
  const marks = await watermarks(kafka, dlqTopic);
  for (const [partition, { low, high }] of [...marks].sort(([a], [b]) => a - b)) {
    for (let from = low; from < high; from += BigInt(chunk)) {
      const to = from + BigInt(chunk) < high ? from + BigInt(chunk) : high;
      const records = await readRanges(kafka, dlqTopic, [{ partition, from, to }]);
      yield records.map((r) => toDeadLetter(dlqTopic, r));
    }
  }
}

/**
 * Replays every open dead letter of `topic` that can be an event, oldest first, a chunk at a time
 * (each chunk's replays in one transaction); returns what was replayed and what was left because
 * it cannot be an event. For `deno task dlq replay <topic>` without addresses.
 */
export async function replayAllOpen(
  kafka: Kafka,
  sql: Sql,
  topic: string,
  by: string,
): Promise<{ replayed: DeadLetter[]; skipped: { letter: DeadLetter; reason: string }[] }> {
  const replayed: DeadLetter[] = [];
  const skipped: { letter: DeadLetter; reason: string }[] = [];
  for await (const chunk of oldestFirst(kafka, topic)) {
    const ok: DeadLetter[] = [];
    for (const d of await openOnly(sql, chunk)) {
      const r = outboxRowOf(d);
      if (r.ok) ok.push(d);
      else skipped.push({ letter: d, reason: r.reason });
    }
    try {
      replayed.push(...await replayDeadLetters(sql, ok, by));
    } catch (err) {
      // Some were settled meanwhile by someone else: replay the others one by one.
      if (!(err instanceof DeadLetterError && err.kind === "settled")) throw err;
      for (const d of ok) {
        await replayDeadLetters(sql, [d], by).then((r) => replayed.push(...r)).catch((e) => {
          if (!(e instanceof DeadLetterError && e.kind === "settled")) throw e;
        });
      }
    }
  }
  return { replayed, skipped };
}
