/**
 * The migration runner: numbered plain SQL files, each applied in its own transaction and
 * recorded with its checksum. A session advisory lock serialises concurrent runners, and a
 * changed or missing applied file stops the run before anything is applied.
 */
import type { Sql } from "./db.ts";
import { sha256Hex } from "./sha256.ts";

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

/** Thrown when the migrations on disk disagree with those recorded in the database. */
export class MigrationError extends Error {
  override name = "MigrationError";
}

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;
// Any constant works as long as every runner uses the same one; this spells "migr".
const LOCK_KEY = 0x6d696772;

export const MIGRATIONS_DIR = new URL("../../migrations/", import.meta.url);

/** Reads `dir`, ordered by version. Every `.sql` file must be named `NNNN_snake_name.sql`. */
export async function readMigrations(dir: URL | string = MIGRATIONS_DIR): Promise<Migration[]> {
  const out: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".sql")) continue;
    const m = FILE_NAME.exec(entry.name);
    if (!m) {
      throw new MigrationError(
        `Cannot read migration '${entry.name}': names must match NNNN_snake_case.sql`,
      );
    }
    const sql = await Deno.readTextFile(new URL(entry.name, toDirUrl(dir)));
    out.push({ version: m[1], name: entry.name, sql, checksum: sha256Hex(sql) });
  }
  out.sort((a, b) => a.version.localeCompare(b.version));
  for (let i = 1; i < out.length; i++) {
    if (out[i].version === out[i - 1].version) {
      throw new MigrationError(
        `Cannot order migrations: '${out[i - 1].name}' and '${out[i].name}' share a version`,
      );
    }
  }
  return out;
}

function toDirUrl(dir: URL | string): URL {
  if (dir instanceof URL) return dir;
  const abs = dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`;
  return new URL(`file://${abs.endsWith("/") ? abs : abs + "/"}`);
}

/**
 * Applies every pending migration of `dir` to the database behind `sql`.
 * @example
 * const { applied } = await migrate(sql);
 */
export async function migrate(
  sql: Sql,
  dir: URL | string = MIGRATIONS_DIR,
  onApplied: (name: string, ms: number) => void = () => {},
): Promise<MigrateResult> {
  const migrations = await readMigrations(dir);
  const conn = await sql.reserve();
  try {
    await conn`select pg_advisory_lock(${LOCK_KEY})`;
    // The runner's own table lives in the `platform` schema (moved there from `public`, where
    // runners before service schemas kept it). Named in full: a migration may change the
    // database's search path, which this session does not see.
    await conn`create schema if not exists platform`;
    await conn`
      do $$ begin
        if to_regclass('public.schema_migrations') is not null
           and to_regclass('platform.schema_migrations') is null then
          alter table public.schema_migrations set schema platform;
        end if;
      end $$`;
    await conn`
      create table if not exists platform.schema_migrations (
        version text primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`;
    const rows = await conn<{ version: string; name: string; checksum: string }[]>`
      select version, name, checksum from platform.schema_migrations order by version`;
    const onDisk = new Map(migrations.map((m) => [m.version, m]));
    for (const row of rows) {
      const file = onDisk.get(row.version);
      if (!file) {
        throw new MigrationError(
          `Refusing to migrate: applied migration '${row.name}' is missing from the migrations folder`,
        );
      }
      if (file.checksum !== row.checksum) {
        throw new MigrationError(
          `Refusing to migrate: '${file.name}' changed after it was applied ` +
            `(checksum ${row.checksum.slice(0, 12)} applied, ${
              file.checksum.slice(0, 12)
            } on disk); add a new migration instead`,
        );
      }
    }
    const done = new Set(rows.map((r) => r.version));
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      const started = performance.now();
      await conn`begin`;
      try {
        await conn.unsafe(m.sql);
        await conn`
          insert into platform.schema_migrations (version, name, checksum)
          values (${m.version}, ${m.name}, ${m.checksum})`;
        await conn`commit`;
      } catch (err) {
        await conn`rollback`;
        throw new MigrationError(`Migration '${m.name}' failed and was rolled back: ${err}`);
      }
      applied.push(m.name);
      onApplied(m.name, performance.now() - started);
    }
    return { applied, alreadyApplied: done.size };
  } finally {
    await conn`select pg_advisory_unlock(${LOCK_KEY})`.catch(() => {});
    conn.release();
  }
}
