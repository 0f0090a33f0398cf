/**
 * The open dead letters per topic for the console: the newest page of each DLQ topic (a bounded
 * offset range per partition, never the whole topic). A page is read again only when the
 * topic's end offsets moved, in the background; the console gets the last page at once, filtered
 * by what was replayed or discarded since, and the open count from the watermarks minus the
 * settled records (no read of the topic), so an action shows on the next refresh. Older pages
 * are read on demand (`GET /ops/api/dead-letters/:topic?before=`).
 */
import type { Kafka } from "../platform/kafka.ts";
import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import {
  countOpen,
  type DeadLetter,
  type DeadLetterPage,
  dlqKey,
  openOnly,
  originKey,
  pageDeadLetters,
} from "./dlq.ts";
import type { Ends } from "../platform/lag.ts";

export interface DeadLetterView {
  /** `partition@offset` in the DLQ topic: how the page's buttons name it. */
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
  /** The open ones of the newest page (at most `PAGE_SIZE` records), newest first. */
  items: DeadLetterView[];
  /** The cursor of the next, older page (`GET /ops/api/dead-letters/:topic?before=`), or null. */
  nextCursor: string | null;
  /** The page is being (re)read: what is shown may be behind. */
  stale: boolean;
}

/** Records per console page. */
export const PAGE_SIZE = 20;
const PREVIEW_CHARS = 160;

/** What the console shows of a dead letter. */
export function view(d: DeadLetter): DeadLetterView {
  const at = d.at ? Date.parse(d.at) : Number(d.record.timestamp);
  const value = d.record.value?.toString("utf8") ?? "";
  return {
    key: dlqKey(d),
    id: d.id ?? null,
    eventType: d.eventType ?? null,
    origin: originKey(d),
    group: d.group,
    error: `${d.errorClass}: ${d.errorMessage}`,
    ageSeconds: Number.isFinite(at) ? Math.max(0, (Date.now() - at) / 1000) : null,
    preview: value.length > PREVIEW_CHARS ? `${value.slice(0, PREVIEW_CHARS)}…` : value,
  };
}

export class DeadLetterCache {
  #pages = new Map<string, { signature: string; page: DeadLetterPage }>();
  #loading = new Map<string, Promise<void>>();

  constructor(private kafka: Kafka, private sql: Sql, private log: Logger) {}

  /** Forgets a topic's page, so the next view reads it again (after a replay or a discard). */
  invalidate(dlqTopic: string): void {
    this.#pages.delete(dlqTopic);
  }

  #refresh(dlqTopic: string, signature: string): Promise<void> {
    let p = this.#loading.get(dlqTopic);
    if (!p) {
      p = pageDeadLetters(this.kafka, dlqTopic, { limit: PAGE_SIZE })
        .then((page) => void this.#pages.set(dlqTopic, { signature, page }))
        .catch((err) => this.log.warn("ops: reading dead letters failed", { dlqTopic, error: err }))
        .finally(() => this.#loading.delete(dlqTopic));
      this.#loading.set(dlqTopic, p);
    }
    return p;
  }

  /**
   * The open dead letters of each DLQ topic. `ends` carries the DLQ topics' watermarks; a page
   * is awaited only the first time a topic is seen (up to `firstWaitMs`), else refreshed behind.
   */
  async view(dlqTopics: string[], ends: Ends, firstWaitMs = 8000): Promise<TopicDeadLetters[]> {
    return await Promise.all(dlqTopics.map(async (t) => {
      const marks = ends.get(t) ?? [];
      const signature = JSON.stringify(marks);
      let cached = this.#pages.get(t);
      // An empty topic needs no read.
      if (cached?.signature !== signature && marks.some((m) => m.high > m.low)) {
        const loading = this.#refresh(t, signature);
        if (!cached) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([loading, new Promise((r) => timer = setTimeout(r, firstWaitMs))]);
          clearTimeout(timer);
          cached = this.#pages.get(t);
        }
      }
      const empty = !marks.some((m) => m.high > m.low);
      const page = empty ? { letters: [], nextCursor: null } : cached?.page;
      const [open, count] = await Promise.all([
        openOnly(this.sql, page?.letters ?? []),
        countOpen(this.sql, t, marks),
      ]);
      return {
        topic: t,
        open: count,
        items: open.map(view),
        nextCursor: page?.nextCursor ?? null,
        stale: !empty && cached?.signature !== signature,
      };
    }));
  }
}
