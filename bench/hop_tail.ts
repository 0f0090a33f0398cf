/**
 * Where an order's time goes, hop by hop. A read-committed consumer of the bench's own (a group
 * of its own with nothing else to do) notes when each event of the business topics becomes
 * readable; the event's id (UUIDv7) says when it was made, and its consumers' inbox claims when
 * each service took it. relay = readable - made (the producing commit, Debezium's poll, the
 * exactly-once transaction); consumer = claimed - readable (the worker's fetch, its run queue,
 * BEGIN). Both on this machine's clock, in milliseconds.
 */
import { type Config, parseConfig } from "../src/platform/config.ts";
import type { Sql } from "../src/platform/db.ts";
import { kafkaAccess, kafkaClient } from "../src/platform/kafka.ts";
import { PRINCIPALS } from "../src/kafka_acls.ts";
import { AGGREGATE_TYPES, topicFor } from "../src/events/topics.ts";
import { uuidv7Time } from "../src/platform/uuidv7.ts";
import { waitFor } from "../src/platform/wait_for.ts";
import { summarize, type Summary } from "./stats.ts";

/** One consumer group's hops over a phase. */
export interface Hop {
  group: string;
  events: number;
  relayMs: Summary;
  consumerMs: Summary;
}

/**
 * Tails every business topic from its end in a process of its own (in the bench's process, busy
 * sending the load, the tail saw events a few hundred ms late, after their consumers). Resolves
 * once the tail fetches; `stop()` ends it and gives event id -> when it became readable (Unix ms).
 */
export async function startTail(): Promise<{ stop(): Promise<Map<string, number>> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(splitLines());
  const reader = lines.getReader();
  // Anything it prints before "ready" (a log line) is not an event.
  for (let r = await reader.read(); r.value !== "ready"; r = await reader.read()) {
    if (r.done) {
      throw new Error(
        `the hop tail exited (code ${(await child.status).code}) before it was ready`,
      );
    }
  }
  const readable = new Map<string, number>();
  const collected = (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      const [id, at] = r.value.split("\t");
      if (id && at && !readable.has(id)) readable.set(id, Number(at));
    }
  })();
  return {
    async stop() {
      child.kill("SIGTERM");
      await Promise.all([collected, child.status]);
      return readable;
    },
  };
}

function splitLines(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, out) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const p of parts) out.enqueue(p);
    },
    flush(out) {
      if (rest) out.enqueue(rest);
    },
  });
}

/** The tail process: "ready" once it fetches, then one "id<TAB>ms" line per event. */
async function tailProcess(cfg: Config): Promise<void> {
  const kafka = kafkaClient(kafkaAccess(cfg, PRINCIPALS.bench), "bench-hops", { silent: true });
  const groupId = `bench-hops-${crypto.randomUUID().slice(0, 8)}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 50 });
  const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
  let fetched = false;
  consumer.on(consumer.events.FETCH, () => void (fetched = true));
  await consumer.connect();
  await consumer.subscribe({ topics: AGGREGATE_TYPES.map(topicFor), fromBeginning: false });
  await consumer.run({
    eachMessage: ({ message }) => {
      const id = message.headers?.id?.toString();
      if (id) out(`${id}\t${Date.now()}`);
      return Promise.resolve();
    },
  });
  await waitFor(() => fetched, { timeoutMs: 60_000, what: "the hop tail's first fetch" });
  out("ready");
  await new Promise<void>((resolve) => Deno.addSignalListener("SIGTERM", () => resolve()));
  await consumer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteGroups([groupId]).catch(() => {});
  await admin.disconnect();
}

/** Every group's hops for the events the tail saw (the inbox claims of those events). */
export async function hopsOf(sql: Sql, readable: Map<string, number>): Promise<Hop[]> {
  const ids = [...readable.keys()];
  const claims = ids.length === 0 ? [] : await sql<{ group: string; id: string; at: number }[]>`
    select consumer_group as group, event_id::text as id,
      extract(epoch from processed_at) * 1000 as at
    from platform.inbox where event_id = any(${ids}::uuid[])`;
  const byGroup = new Map<string, { relay: number[]; consumer: number[] }>();
  for (const c of claims) {
    const seen = readable.get(c.id)!;
    const g = byGroup.get(c.group) ?? { relay: [], consumer: [] };
    g.relay.push(seen - uuidv7Time(c.id));
    g.consumer.push(Number(c.at) - seen);
    byGroup.set(c.group, g);
  }
  return [...byGroup].sort(([a], [b]) => a.localeCompare(b)).map(([group, g]) => ({
    group,
    events: g.relay.length,
    relayMs: summarize(g.relay),
    consumerMs: summarize(g.consumer),
  }));
}

if (import.meta.main) await tailProcess(parseConfig(Deno.env.toObject()));
