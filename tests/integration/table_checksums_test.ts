/**
 * The "no table changed" helper the API's bad-request and fuzz tests rely on: it must see an
 * UPDATE that leaves every row count as it was, and cover tables wherever they live. Everything
 * here happens inside a transaction that is rolled back, so no other test sees it.
 */
import assert from "node:assert/strict";
import { applicationTables, tableChecksums } from "../helpers/table_checksums.ts";
import { db, real, unique } from "../helpers/stack.ts";
import type { Tx } from "../../src/platform/db.ts";

/** Rolls back whatever `body` did. */
class Rollback extends Error {}
async function rolledBack(body: (tx: Tx) => Promise<void>): Promise<void> {
  const sql = db(1);
  try {
    await sql.begin(async (tx) => {
      await body(tx);
      throw new Rollback();
    }).catch((err) => {
      if (!(err instanceof Rollback)) throw err;
    });
  } finally {
    await sql.end();
  }
}

/** The wallets table, wherever a migration put it (found by its columns, not its schema). */
async function walletsTable(tx: Tx): Promise<{ name: string; quoted: string }> {
  const rows = await tx<{ name: string; quoted: string }[]>`
    select table_schema || '.' || table_name as name,
           format('%I.%I', table_schema, table_name) as quoted
    from information_schema.columns
    where table_name = 'wallets' and column_name = 'balance'`;
  assert.equal(rows.length, 1, `one wallets table: ${JSON.stringify(rows)}`);
  return rows[0];
}

Deno.test("table checksums: an UPDATE that keeps every row count is seen", real, async () => {
  await rolledBack(async (tx) => {
    const wallets = await walletsTable(tx);
    const user = unique("checksum-");
    await tx.unsafe(`insert into ${wallets.quoted} (user_id, balance) values ($1, 100)`, [user]);
    const before = await tableChecksums(tx);
    assert.ok(before[wallets.name], `${wallets.name} is covered: ${Object.keys(before)}`);

    await tx.unsafe(`update ${wallets.quoted} set balance = balance + 1 where user_id = $1`, [
      user,
    ]);
    const after = await tableChecksums(tx);
    assert.notEqual(after[wallets.name], before[wallets.name], "the balance change is seen");
    // Only that table differs, and its row count did not move: what a row count would miss.
    for (const t of Object.keys(before)) {
      if (t !== wallets.name) assert.equal(after[t], before[t], t);
    }
    const count = (c: string) => c.split(":")[0];
    assert.equal(count(after[wallets.name]), count(before[wallets.name]));

    // An UPDATE that writes the same values is no change: the sum is of contents, not of row
    // versions, so tests do not fail on a write that left every value as it was.
    await tx.unsafe(`update ${wallets.quoted} set balance = balance where user_id = $1`, [user]);
    assert.deepEqual(await tableChecksums(tx), after);
  });
});

Deno.test("table checksums: cover every schema's tables, found in the catalog", real, async () => {
  await rolledBack(async (tx) => {
    // A schema nobody listed anywhere: the per-service schemas are just as unlisted.
    const schema = unique("checksum_scratch_");
    await tx.unsafe(`create schema ${schema}`);
    await tx.unsafe(`create table ${schema}.t (id int primary key, v text)`);
    await tx.unsafe(`insert into ${schema}.t values (1, 'a')`);
    const tables = await applicationTables(tx);
    assert.ok(tables.includes(`${schema}.t`), tables.join(", "));
    assert.ok(!tables.some((t) => /^(pg_|information_schema\.)/.test(t)), "no system tables");

    const before = await tableChecksums(tx);
    assert.deepEqual(Object.keys(before).sort(), [...tables].sort());
    await tx.unsafe(`update ${schema}.t set v = 'b' where id = 1`);
    const after = await tableChecksums(tx);
    assert.notEqual(after[`${schema}.t`], before[`${schema}.t`]);

    // Excluding a table leaves it out; excluding one that does not exist is an error, so an
    // exclusion cannot silently outlive a table that moved to another schema.
    const without = await tableChecksums(tx, { exclude: [`${schema}.t`] });
    assert.equal(without[`${schema}.t`], undefined);
    await assert.rejects(tableChecksums(tx, { exclude: [`nowhere.${schema}`] }), /no table/);
  });
});
