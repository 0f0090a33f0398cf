/** `deno task dlq list <topic>` | `deno task dlq replay <topic> [--id <event id> ...]`. */
import { config } from "../platform/config.ts";
import { connect } from "../platform/db.ts";
import { kafkaClient } from "../platform/kafka.ts";
import { dlqName, listDeadLetters, replayDeadLetters } from "../ops/dlq.ts";

const [cmd, topic, ...rest] = Deno.args;
const ids = rest.flatMap((a, i) => (rest[i - 1] === "--id" ? [a] : []));
if (
  !["list", "replay"].includes(cmd) || !topic ||
  rest.some((a, i) => a !== "--id" && rest[i - 1] !== "--id")
) {
  console.error(
    "usage: deno task dlq list <topic> | deno task dlq replay <topic> [--id <event id> ...]",
  );
  Deno.exit(64);
}
const cfg = config();
const kafka = kafkaClient(cfg.kafkaBrokers, "dlq-cli");
if (cmd === "list") {
  const letters = await listDeadLetters(kafka, topic);
  for (const d of letters) {
    console.log(JSON.stringify({
      dlq: `${dlqName(topic)}/${d.dlqPartition}@${d.dlqOffset}`,
      id: d.id,
      eventType: d.eventType,
      origin: `${d.origin.topic}/${d.origin.partition}@${d.origin.offset}`,
      group: d.group,
      error: `${d.errorClass}: ${d.errorMessage}`,
      at: d.at,
    }));
  }
  console.error(`${letters.length} dead letter(s) on ${dlqName(topic)}`);
} else {
  const sql = connect(cfg.databaseUrl, { max: 1, applicationName: "dlq-cli" });
  try {
    const replayed = await replayDeadLetters(kafka, sql, topic, ids);
    for (const d of replayed) {
      console.log(`replayed ${d.id} (${d.eventType}) to ${d.origin.topic}`);
    }
    console.error(`${replayed.length} dead letter(s) replayed`);
  } finally {
    await sql.end();
  }
}
