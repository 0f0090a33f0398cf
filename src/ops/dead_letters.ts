/**
 * The open dead letters per topic for the console. Reading a DLQ topic takes seconds (a
 * throwaway consumer group), so each topic's list is read again only when its end offsets moved,
 * in the background; the page gets the last list at once, filtered by what was replayed or
 * discarded since (one cheap query), so an action shows on the next refresh.
 */
import type { Kafka } from "../platform/kafka.ts";
import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import { type DeadLetter, dlqKey, listDeadLetters, openDeadLetters } from "./dlq.ts";
import type { Ends } from "../platform/lag.ts";

export interface DeadLetterView {
  key: string;
  id: string | null;
  eventType: string | null;
  origin: string;
  group: string;
  error: string;
  ageSeconds: number | null;
  preview: string;
}

export interface TopicDeadLetters {
  topic: string;
  open: number;
  /** The newest open ones, at most 20. */
  items: DeadLetterView[];
  /** The list is being (re)read: what is shown may be behind. */
  stale: boolean;
}

const PREVIEW_CHARS = 160;

function view(d: DeadLetter): DeadLetterView {
  const at = d.at ? Date.parse(d.at) : Number(d.record.timestamp);
  const value = d.record.value?.toString("utf8") ?? "";
  return {
    key: dlqKey(d),
    id: d.id ?? null,
    eventType: d.eventType ?? null,
    origin: `${d.origin.topic}/${d.origin.partition}@${d.origin.offset}`,
    group: d.group,
    error: `${d.errorClass}: ${d.errorMessage}`,
    ageSeconds: Number.isFinite(at) ? Math.max(0, (Date.now() - at) / 1000) : null,
    preview: value.length > PREVIEW_CHARS ? `${value.slice(0, PREVIEW_CHARS)}…` : value,
  };
}

/** Newest first, by when it was dead-lettered (unknown ages last). */
const newestFirst = (a: DeadLetterView, b: DeadLetterView) =>
  (a.ageSeconds ?? Infinity) - (b.ageSeconds ?? Infinity);

export class DeadLetterCache {
  #lists = new Map<string, { signature: string; letters: DeadLetter[] }>();
  #loading = new Map<string, Promise<void>>();

  constructor(private kafka: Kafka, private sql: Sql, private log: Logger) {}

  /** Forgets a topic's list, so the next view reads it again (after a replay or a discard). */
  invalidate(dlqTopic: string): void {
    this.#lists.delete(dlqTopic);
  }

  #refresh(dlqTopic: string, signature: string): Promise<void> {
    let p = this.#loading.get(dlqTopic);
    if (!p) {
      p = listDeadLetters(this.kafka, dlqTopic)
        .then((letters) => void this.#lists.set(dlqTopic, { signature, letters }))
        .catch((err) => this.log.warn("ops: reading dead letters failed", { dlqTopic, error: err }))
        .finally(() => this.#loading.delete(dlqTopic));
      this.#loading.set(dlqTopic, p);
    }
    return p;
  }

  /**
   * The open dead letters of each DLQ topic. `ends` carries the DLQ topics' end offsets; a list
   * is awaited only the first time a topic is seen (up to `firstWaitMs`), else refreshed behind.
   */
  async view(dlqTopics: string[], ends: Ends, firstWaitMs = 8000): Promise<TopicDeadLetters[]> {
    return await Promise.all(dlqTopics.map(async (t) => {
      const signature = JSON.stringify(ends.get(t) ?? []);
      let cached = this.#lists.get(t);
      if (cached?.signature !== signature) {
        const loading = this.#refresh(t, signature);
        if (!cached) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([loading, new Promise((r) => timer = setTimeout(r, firstWaitMs))]);
          clearTimeout(timer);
          cached = this.#lists.get(t);
        }
      }
      const letters = cached?.letters ?? [];
      const open = await openDeadLetters(this.kafka, this.sql, t, letters);
      return {
        topic: t,
        open: open.length,
        items: open.map(view).sort(newestFirst).slice(0, 20),
        stale: cached?.signature !== signature,
      };
    }));
  }
}
