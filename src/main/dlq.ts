/**
 * `deno task dlq list <topic> [--limit N] [--before <cursor>]`: a page of dead letters, newest
 * first, with the cursor of the next page;
 * `deno task dlq replay <topic> [--id <address> ...]`: replays through the outbox the dead letters
 * named, or every open one that can be an event;
 * `deno task dlq discard <topic> --id <address> ...`: records them as discarded.
 * An address is `partition@offset` in the DLQ topic, `topic/partition@offset` of the origin
 * record, or an event id. Replays and discards are recorded as `cli:<user>`.
 */
import { config } from "../platform/config.ts";
import { connect } from "../platform/db.ts";
import { kafkaAccess, kafkaClient } from "../platform/kafka.ts";
import { PRINCIPALS } from "../kafka_acls.ts";
import {
  countOpen,
  DeadLetterError,
  discardDeadLetters,
  dlqKey,
  dlqMarks,
  dlqName,
  findDeadLetters,
  originKey,
  pageDeadLetters,
  replayAllOpen,
  replayDeadLetters,
  settlements,
} from "../ops/dlq.ts";

const USAGE = "usage: deno task dlq list <topic> [--limit N] [--before <cursor>]\n" +
  "       deno task dlq replay <topic> [--id <address> ...]\n" +
  "       deno task dlq discard <topic> --id <address> ...\n" +
  "address: partition@offset (in the DLQ topic) | topic/partition@offset (origin) | event id";

const [cmd, topic, ...rest] = Deno.args;
const opts: Record<string, string[]> = {};
let bad = !["list", "replay", "discard"].includes(cmd) || !topic || rest.length % 2 !== 0;
for (let i = 0; i + 1 < rest.length; i += 2) {
  const flag = rest[i];
  const allowed = cmd === "list" ? ["--limit", "--before"] : ["--id"];
  if (!allowed.includes(flag)) bad = true;
  (opts[flag] ??= []).push(rest[i + 1]);
}
if (cmd === "discard" && !opts["--id"]?.length) bad = true;
if (bad) {
  console.error(USAGE);
  Deno.exit(64);
}
const cfg = config();
const kafka = kafkaClient(kafkaAccess(cfg, PRINCIPALS.ops), "dlq-cli");
const sql = connect(cfg.databaseUrl, { max: 1, applicationName: "dlq-cli" });
const by = `cli:${Deno.env.get("USER") ?? "unknown"}`;
try {
  if (cmd === "list") {
    const page = await pageDeadLetters(kafka, topic, {
      limit: opts["--limit"] ? Number(opts["--limit"][0]) : undefined,
      before: opts["--before"]?.[0],
    });
    const settled = await settlements(sql, page.letters);
    for (const d of page.letters) {
      const s = settled.get(dlqKey(d));
      console.log(JSON.stringify({
        dlq: `${dlqName(topic)}/${dlqKey(d)}`,
        id: d.id,
        eventType: d.eventType,
        origin: originKey(d),
        group: d.group,
        error: `${d.errorClass}: ${d.errorMessage}`,
        at: d.at,
        settled: s ? `${s.action} by ${s.by ?? "?"} at ${s.at.toISOString()}` : undefined,
      }));
    }
    const open = await countOpen(sql, topic, await dlqMarks(kafka, topic));
    console.error(
      `${page.letters.length} dead letter(s) shown; ${open} open on ${dlqName(topic)}` +
        (page.nextCursor ? `; older: --before ${page.nextCursor}` : ""),
    );
  } else if (cmd === "replay" && !opts["--id"]) {
    const { replayed, skipped } = await replayAllOpen(kafka, sql, topic, by);
    for (const d of replayed) console.log(`replayed ${dlqKey(d)} ${d.id} (${d.eventType})`);
    for (const s of skipped) {
      console.error(`left ${dlqKey(s.letter)}: cannot be replayed: ${s.reason} (discard it)`);
    }
    console.error(`${replayed.length} dead letter(s) replayed through the outbox`);
  } else {
    const letters = await findDeadLetters(kafka, sql, topic, opts["--id"]);
    const done = cmd === "replay"
      ? await replayDeadLetters(sql, letters, by)
      : await discardDeadLetters(sql, letters, by);
    for (const d of done) {
      console.log(
        `${cmd === "replay" ? "replayed" : "discarded"} ${dlqKey(d)} ${d.id ?? "(no id)"}`,
      );
    }
    console.error(`${done.length} dead letter(s) ${cmd === "replay" ? "replayed" : "discarded"}`);
  }
} catch (err) {
  if (!(err instanceof DeadLetterError)) throw err;
  console.error(err.message);
  for (const i of err.items) console.error(`  ${i.address}: ${i.message}`);
  Deno.exitCode = 65; // EX_DATAERR: nothing was written
} finally {
  await sql.end();
}
