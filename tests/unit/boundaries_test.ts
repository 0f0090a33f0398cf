/**
 * The folder picture is the system picture: checks over the source files (offline) that
 * - src/platform imports nothing above it (the application hands it what it needs);
 * - a service folder reaches another service only through that service's mod.ts;
 * - src/events (the shared language) imports only itself and the platform;
 * - no SQL in a service folder names a table of another service's schema (the owner of each
 *   table is read from the migrations, not written down here).
 * Each rule is also run on a made-up violation, so a rule that can no longer fail fails here.
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;
const SERVICES = ["orders", "inventory", "coupons", "wallet", "best_sellers"];
/** Shared bookkeeping (outbox, inbox, idempotency keys, dead letters): every service may use it. */
const SHARED_SCHEMA = "platform";

type Sources = Map<string, string>;

/** Every .ts/.tsx file under `dir` (relative to the repository root), with its text. */
async function readSources(dir: string): Promise<Sources> {
  const out: Sources = new Map();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(join(ROOT, d))) {
      const path = `${d}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (/\.tsx?$/.test(e.name)) out.set(path, await Deno.readTextFile(join(ROOT, path)));
    }
  };
  await walk(dir);
  return out;
}

/**
 * The project files a file imports, as repository paths (`src/platform/db.ts`); packages
 * (`zod`, `node:crypto`, `hono/jsx`, the vendored `postgres`) are left out: anyone may use them.
 * Statements start a line, so examples in doc comments do not count.
 */
export function importsOf(path: string, source: string): string[] {
  const specs = [
    ...source.matchAll(/^\s*(?:import|export)\b[^"'`;]*?\bfrom\s*["']([^"']+)["']/gm),
    ...source.matchAll(/^\s*import\s*["']([^"']+)["']/gm),
    ...source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
  ].map((m) => m[1]);
  return specs.filter((s) => s.startsWith(".") || s.startsWith("/"))
    .map((s) => relative(ROOT, join(ROOT, dirname(path), s)));
}

const under = (dir: string, path: string) => path.startsWith(`${dir}/`);

/** (a) Files of src/platform importing outside it (packages are fine). */
export function platformViolations(files: Sources): string[] {
  const out: string[] = [];
  for (const [path, source] of files) {
    if (!under("src/platform", path)) continue;
    for (const target of importsOf(path, source)) {
      if (!under("src/platform", target)) out.push(`${path} -> ${target}`);
    }
  }
  return out;
}

/**
 * (b) Files of a service folder importing another service other than through its mod.ts, or
 * anything above the services (entry points, composition, the console).
 */
export function serviceViolations(files: Sources): string[] {
  const out: string[] = [];
  for (const [path, source] of files) {
    const own = SERVICES.find((s) => under(`src/${s}`, path));
    if (!own) continue;
    for (const target of importsOf(path, source)) {
      const other = SERVICES.find((s) => s !== own && under(`src/${s}`, target));
      const ok = other
        ? target === `src/${other}/mod.ts`
        : under(`src/${own}`, target) || under("src/platform", target) ||
          under("src/events", target);
      if (!ok) out.push(`${path} -> ${target}`);
    }
  }
  return out;
}

/** (c) Files of src/events importing anything but src/events, src/platform and packages. */
export function eventsViolations(files: Sources): string[] {
  const out: string[] = [];
  for (const [path, source] of files) {
    if (!under("src/events", path)) continue;
    for (const target of importsOf(path, source)) {
      if (!under("src/events", target) && !under("src/platform", target)) {
        out.push(`${path} -> ${target}`);
      }
    }
  }
  return out;
}

/**
 * Table name to owning schema, from the migrations: `alter table X set schema S;` and tables
 * created with a schema-qualified name (`create table S.X`).
 */
export function tableOwners(migrations: string[]): Map<string, string> {
  const owners = new Map<string, string>();
  for (const text of migrations) {
    for (const m of text.matchAll(/\balter\s+table\s+(?:\w+\.)?(\w+)\s+set\s+schema\s+(\w+)/gi)) {
      owners.set(m[1].toLowerCase(), m[2].toLowerCase());
    }
    for (
      const m of text.matchAll(/\bcreate\s+table\s+(?:if\s+not\s+exists\s+)?(\w+)\.(\w+)/gi)
    ) {
      owners.set(m[2].toLowerCase(), m[1].toLowerCase());
    }
  }
  return owners;
}

/** Block and line comments removed (a `//` right after `:` is a URL, kept). */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
}

/** (d) SQL of a service folder naming a table another service's schema owns. */
export function sqlViolations(files: Sources, owners: Map<string, string>): string[] {
  const out: string[] = [];
  const foreign = (own: string, schema: string | undefined) =>
    schema !== undefined && schema !== own && schema !== SHARED_SCHEMA;
  for (const [path, source] of files) {
    const own = SERVICES.find((s) => under(`src/${s}`, path));
    if (!own) continue;
    const code = withoutComments(source);
    // `from|join|update|into|table <name>`, the name possibly schema-qualified.
    for (
      const m of code.matchAll(
        /\b(?:from|join|update|into|table)\s+(?:only\s+)?(?:(\w+)\.)?([a-z_]\w*)\b/gi,
      )
    ) {
      const [schema, table] = [m[1]?.toLowerCase(), m[2].toLowerCase()];
      if (foreign(own, schema) && SERVICES.includes(schema!)) {
        out.push(`${path}: ${m[0]} (schema ${schema})`);
      } else if (schema === undefined && foreign(own, owners.get(table))) {
        out.push(`${path}: ${m[0]} (a table of ${owners.get(table)})`);
      }
    }
    // `<schema>.<table>` anywhere else (a subquery, a cast, a lock list).
    for (const m of code.matchAll(/\b(\w+)\.(\w+)\b/g)) {
      const [schema, table] = [m[1].toLowerCase(), m[2].toLowerCase()];
      if (SERVICES.includes(schema) && foreign(own, schema) && owners.get(table) === schema) {
        out.push(`${path}: ${m[0]} (schema ${schema})`);
      }
    }
  }
  return [...new Set(out)];
}

async function migrations(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(ROOT, "migrations"))) {
    if (e.name.endsWith(".sql")) {
      out.push(await Deno.readTextFile(join(ROOT, "migrations", e.name)));
    }
  }
  return out;
}

const src = await readSources("src");

Deno.test("boundaries: src/platform imports nothing above it", () => {
  assert.deepEqual(platformViolations(src), []);
});

Deno.test("boundaries: a service reaches another service only through its mod.ts", () => {
  assert.deepEqual(serviceViolations(src), []);
});

Deno.test("boundaries: src/events imports only itself, the platform and packages", () => {
  assert.deepEqual(eventsViolations(src), []);
});

Deno.test("boundaries: no service's SQL names another service's table", async () => {
  const owners = tableOwners(await migrations());
  // The map comes from the migrations: it must know the tables, or the check proves nothing.
  for (const [table, schema] of Object.entries({ products: "inventory", orders: "orders" })) {
    assert.equal(owners.get(table), schema, `the migrations put ${table} in ${schema}`);
  }
  assert.ok([...owners.values()].every((s) => [...SERVICES, SHARED_SCHEMA].includes(s)));
  assert.deepEqual(sqlViolations(src, owners), []);
});

Deno.test("boundaries: each rule fails on a violation", async () => {
  const owners = tableOwners(await migrations());
  const with_ = (path: string, source: string): Sources => new Map([...src, [path, source]]);
  assert.deepEqual(
    platformViolations(
      with_("src/platform/x.ts", 'import { EVENTS } from "../events/catalog.ts";'),
    ),
    ["src/platform/x.ts -> src/events/catalog.ts"],
  );
  assert.deepEqual(
    platformViolations(with_("src/platform/x.ts", 'export { a } from "../../relay/slot.ts";')),
    ["src/platform/x.ts -> relay/slot.ts"],
  );
  assert.deepEqual(
    serviceViolations(
      with_("src/orders/x.ts", 'import {\n  heldCouponDiscount,\n} from "../coupons/store.ts";'),
    ),
    ["src/orders/x.ts -> src/coupons/store.ts"],
  );
  assert.deepEqual(
    serviceViolations(with_("src/wallet/x.ts", 'import { SERVICES } from "../workers.ts";')),
    ["src/wallet/x.ts -> src/workers.ts"],
  );
  assert.deepEqual(
    eventsViolations(with_("src/events/x.ts", 'import { SERVICES } from "../workers.ts";')),
    ["src/events/x.ts -> src/workers.ts"],
  );
  assert.deepEqual(
    eventsViolations(with_("src/events/x.ts", 'const m = await import("../orders/mod.ts");')),
    ["src/events/x.ts -> src/orders/mod.ts"],
  );
  assert.deepEqual(
    sqlViolations(with_("src/orders/x.ts", "await tx`select price from products`;"), owners),
    ["src/orders/x.ts: from products (a table of inventory)"],
  );
  assert.deepEqual(
    sqlViolations(
      with_("src/coupons/x.ts", "await tx`select 1 where exists (select from orders.orders o)`;"),
      owners,
    ),
    [
      "src/coupons/x.ts: from orders.orders (schema orders)",
      "src/coupons/x.ts: orders.orders (schema orders)",
    ],
  );
  assert.deepEqual(
    sqlViolations(
      with_("src/wallet/x.ts", "await tx`update user_coupons set status = 'USED'`;"),
      owners,
    ),
    ["src/wallet/x.ts: update user_coupons (a table of coupons)"],
  );
  // Its own tables and the shared ones are fine.
  assert.deepEqual(
    sqlViolations(
      with_("src/wallet/x.ts", "await tx`insert into payments select from inbox`;"),
      owners,
    ),
    [],
  );
});
