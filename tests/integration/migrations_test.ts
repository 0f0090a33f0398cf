/**
 * The migration runner against real, throwaway databases on the stack's Postgres: a fresh
 * database, a no-op re-run, concurrent runners, and a refused changed file.
 */
import assert from "node:assert/strict";
import { connect, type Sql } from "../../src/platform/db.ts";
import { migrate, MigrationError, readMigrations } from "../../src/platform/migrations.ts";
import { cfg, db, real, unique } from "../helpers/stack.ts";

async function withFreshDatabase(fn: (url: string) => Promise<void>): Promise<void> {
  const name = unique("mig_test_").replaceAll("-", "_");
  const admin = db(1);
  await admin.unsafe(`create database ${name}`);
  const url = new URL(cfg.databaseUrl);
  url.pathname = `/${name}`;
  try {
    await fn(url.toString());
  } finally {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

async function tables(sql: Sql): Promise<string[]> {
  const rows = await sql<{ t: string }[]>`
    select table_name as t from information_schema.tables
    where table_schema not in ('pg_catalog', 'information_schema') order by 1`;
  return rows.map((r) => r.t);
}

Deno.test(
  "migrations: a fresh database gets every file, and a re-run is a no-op",
  real,
  async () => {
    await withFreshDatabase(async (url) => {
      const sql = connect(url, { max: 1 });
      try {
        const files = await readMigrations();
        const first = await migrate(sql);
        assert.deepEqual(first.applied, files.map((f) => f.name));
        const created = await tables(sql);
        for (const t of ["inbox", "outbox", "schema_migrations", "orders", "coupon_requests"]) {
          assert.ok(created.includes(t), `table ${t}`);
        }
        const second = await migrate(sql);
        assert.deepEqual(second, { applied: [], alreadyApplied: files.length });
        const rows = await sql`select version from platform.schema_migrations`;
        assert.equal(rows.length, files.length);
      } finally {
        await sql.end();
      }
    });
  },
);

Deno.test("migrations: concurrent runners apply each file exactly once", real, async () => {
  await withFreshDatabase(async (url) => {
    const pools = Array.from({ length: 5 }, () => connect(url, { max: 1 }));
    try {
      const results = await Promise.all(pools.map((p) => migrate(p)));
      const files = await readMigrations();
      const appliedBy = results.flatMap((r) => r.applied);
      assert.deepEqual(appliedBy.sort(), files.map((f) => f.name).sort());
      assert.equal(
        results.filter((r) => r.applied.length > 0).length,
        1,
        "one runner did the work",
      );
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});

Deno.test(
  "migrations: a file changed after it was applied is refused and nothing runs",
  real,
  async () => {
    await withFreshDatabase(async (url) => {
      const dir = await Deno.makeTempDir();
      const sql = connect(url, { max: 1 });
      try {
        await Deno.writeTextFile(`${dir}/0001_first.sql`, "create table a (id int);");
        assert.deepEqual((await migrate(sql, dir)).applied, ["0001_first.sql"]);

        await Deno.writeTextFile(`${dir}/0001_first.sql`, "create table a (id bigint);");
        await Deno.writeTextFile(`${dir}/0002_second.sql`, "create table b (id int);");
        await assert.rejects(migrate(sql, dir), (err: unknown) => {
          assert.ok(err instanceof MigrationError);
          assert.match(err.message, /'0001_first\.sql' changed after it was applied/);
          return true;
        });
        assert.ok(!(await tables(sql)).includes("b"), "the pending file did not run");
      } finally {
        await sql.end();
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);

Deno.test("migrations: a failing file rolls back entirely and is not recorded", real, async () => {
  await withFreshDatabase(async (url) => {
    const dir = await Deno.makeTempDir();
    const sql = connect(url, { max: 1 });
    try {
      await Deno.writeTextFile(`${dir}/0001_ok.sql`, "create table a (id int);");
      await Deno.writeTextFile(`${dir}/0002_bad.sql`, "create table b (id int); select 1/0;");
      await assert.rejects(migrate(sql, dir), /'0002_bad\.sql' failed and was rolled back/);
      assert.deepEqual(await tables(sql), ["a", "schema_migrations"]);
      const rows = await sql`select name from platform.schema_migrations`;
      assert.deepEqual(rows.map((r) => r.name), ["0001_ok.sql"]);
    } finally {
      await sql.end();
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("migrations: badly named files are refused", real, async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/1_first.sql`, "select 1;");
    await assert.rejects(readMigrations(dir), /'1_first\.sql': names must match/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
