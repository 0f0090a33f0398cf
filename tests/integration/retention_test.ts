/** Retention purges delete only rows past their age, only of the named consumer group. */
import assert from "node:assert/strict";
import { purgeInbox } from "../../src/platform/retention.ts";
import { purgeIdempotencyKeys } from "../../src/platform/http/idempotency.ts";
import { uuidv7 } from "../../src/platform/uuidv7.ts";
import { db, real, unique } from "../helpers/stack.ts";

Deno.test(
  "retention: inbox rows older than the retention of one group are purged, nothing else",
  real,
  async () => {
    const sql = db();
    const group = unique("test-group-");
    const other = unique("test-group-");
    try {
      const old = Array.from({ length: 3 }, () => uuidv7());
      const fresh = Array.from({ length: 2 }, () => uuidv7());
      for (const id of old) {
        await sql`insert into inbox (consumer_group, event_id, processed_at) values (${group}, ${id}, now() - interval '15 days')`;
        await sql`insert into inbox (consumer_group, event_id, processed_at) values (${other}, ${id}, now() - interval '15 days')`;
      }
      for (
        const id of fresh
      ) await sql`insert into inbox (consumer_group, event_id) values (${group}, ${id})`;
      assert.equal(await purgeInbox(sql, group, 14 * 24 * 3600_000, 2), 3); // batches of 2
      const left =
        await sql`select event_id from inbox where consumer_group = ${group} order by event_id`;
      assert.deepEqual(left.map((r) => r.event_id), fresh);
      assert.equal((await sql`select 1 from inbox where consumer_group = ${other}`).length, 3);
    } finally {
      await sql`delete from inbox where consumer_group in (${group}, ${other})`;
      await sql.end();
    }
  },
);

Deno.test("retention: old Idempotency-Keys are purged, recent ones kept", real, async () => {
  const sql = db();
  const user = unique("idem-");
  try {
    await sql`insert into idempotency_keys (user_id, route, key, request_hash, status_code, response, created_at)
              values (${user}, 'r', 'old', 'h', 200, '{}', now() - interval '2 days'),
                     (${user}, 'r', 'new', 'h', 200, '{}', now())`;
    assert.ok(await purgeIdempotencyKeys(sql, 24 * 3600_000) >= 1);
    const left = await sql`select key from idempotency_keys where user_id = ${user}`;
    assert.deepEqual(left.map((r) => r.key), ["new"]);
  } finally {
    await sql`delete from idempotency_keys where user_id = ${user}`;
    await sql.end();
  }
});
