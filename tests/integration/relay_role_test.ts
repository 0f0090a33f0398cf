/**
 * The relay runs with least privilege (migrations/0009_relay_role.sql, relay/role.ts): Debezium
 * logs in as `shop_relay`, which can replicate and read the outbox and nothing else, and its
 * password reaches Connect through a config provider, so Connect holds, stores and shows only a
 * placeholder. Against the real stack after `deno task setup`.
 */
import assert from "node:assert/strict";
import { readConnectorFile } from "../../relay/register.ts";
import { RELAY_PASSWORD_VAR, RELAY_ROLE, scramVerifier } from "../../relay/role.ts";
import { connect, databaseUrlAs } from "../../src/platform/db.ts";
import { kafkaAccess, kafkaClient } from "../../src/platform/kafka.ts";
import { PRINCIPALS } from "../../src/kafka_acls.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { cfg, db, real, unique } from "../helpers/stack.ts";
import { localDatabasePassword } from "../../src/platform/local_stack.ts";
import { readTopic } from "../../src/platform/read_topic.ts";

/** What a password may look like anywhere Connect keeps or shows the config: a placeholder. */
const PLACEHOLDER = /^\$\{(env|file|dir):[^}]+\}$/;
const { name: CONNECTOR, config: FILE } = await readConnectorFile();
/** The real password: the environment's where it sets one, else the local stack's own. */
const PASSWORD = Deno.env.get(RELAY_PASSWORD_VAR) ?? localDatabasePassword(RELAY_ROLE) ?? "";

function assertNoPassword(where: string, c: Record<string, string>) {
  assert.equal(c["database.user"], RELAY_ROLE, `${where}: database.user`);
  const pw = c["database.password"];
  assert.ok(pw === undefined || PLACEHOLDER.test(pw), `${where}: database.password is ${pw}`);
  if (PASSWORD) assert.ok(!JSON.stringify(c).includes(PASSWORD), `${where} holds the password`);
}

async function getJson(path: string) {
  const res = await fetch(`${cfg.kafkaConnectUrl}${path}`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200, path);
  return await res.json();
}

Deno.test(
  "relay role: Connect's REST API shows a placeholder, never the password",
  real,
  async () => {
    assertNoPassword("GET config", await getJson(`/connectors/${CONNECTOR}/config`));
    assertNoPassword("GET connector", (await getJson(`/connectors/${CONNECTOR}`)).config);
    // Task configs are made by the connector from the resolved config; Connect puts the
    // placeholders back before it stores and shows them.
    const tasks: { config: Record<string, string> }[] = await getJson(
      `/connectors/${CONNECTOR}/tasks`,
    );
    assert.ok(tasks.length > 0);
    for (const [i, t] of tasks.entries()) assertNoPassword(`GET tasks[${i}]`, t.config);
  },
);

Deno.test("relay role: Connect's config topic stores the placeholder", real, async () => {
  const topic = "_connect-configs";
  // Read to the end, whatever ends it: with exactly-once source the leader writes this topic in
  // transactions, so its last offset is a commit marker, not a record.
  const records = await readTopic(
    kafkaClient(kafkaAccess(cfg, PRINCIPALS.test), "tests-relay-role"),
    topic,
  );
  // The latest record of each key is the one in force: older ones (from before the relay had a
  // role of its own, on a long-lived stack) wait for compaction.
  const latest = new Map<string, string>();
  for (const r of records) if (r.key && r.value) latest.set(r.key.toString(), r.value.toString());
  const mine = [...latest].filter(([k]) =>
    k === `connector-${CONNECTOR}` || k.startsWith(`task-${CONNECTOR}-`)
  );
  assert.ok(mine.some(([k]) => k === `connector-${CONNECTOR}`), "the connector's record");
  for (const [key, value] of mine) {
    assertNoPassword(`${topic} ${key}`, JSON.parse(value).properties);
  }
});

Deno.test("relay role: the connector streams the slot as shop_relay", real, async () => {
  const sql = db(1);
  try {
    // Just after a (re)registration the task may still be connecting.
    const user = await waitFor(async () => {
      const [row] = await sql<{ usename: string }[]>`
        select a.usename from pg_replication_slots s
        join pg_stat_activity a on a.pid = s.active_pid
        where s.slot_name = ${FILE["slot.name"]}`;
      return row?.usename;
    }, { timeoutMs: 30_000, what: `slot ${FILE["slot.name"]} to be active` });
    assert.equal(user, RELAY_ROLE);
    const walsenders = await sql<{ usename: string }[]>`
      select usename from pg_stat_replication where pid in (
        select active_pid from pg_replication_slots where slot_name = ${FILE["slot.name"]})`;
    assert.deepEqual(walsenders.map((w) => w.usename), [RELAY_ROLE]);
  } finally {
    await sql.end();
  }
});

Deno.test(
  "relay role: may log in and replicate, holds no other power, owns nothing",
  real,
  async () => {
    const sql = db(1);
    try {
      const [role] = await sql`
      select oid, rolcanlogin, rolreplication, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls
      from pg_roles where rolname = ${RELAY_ROLE}`;
      assert.ok(role, `role ${RELAY_ROLE} exists`);
      assert.deepEqual(
        { ...role, oid: undefined },
        {
          oid: undefined,
          rolcanlogin: true,
          rolreplication: true,
          rolsuper: false,
          rolcreatedb: false,
          rolcreaterole: false,
          rolbypassrls: false,
        },
      );
      const [{ memberships }] = await sql`
      select count(*)::int as memberships from pg_auth_members where member = ${role.oid}`;
      assert.equal(memberships, 0, "a member of no role (inherits nothing)");
      // Ownership in any database of the cluster: tables, schemas, the publication, functions.
      const [{ owned }] = await sql`
      select count(*)::int as owned from pg_shdepend where refobjid = ${role.oid} and deptype = 'o'`;
      assert.equal(owned, 0, "owns nothing");
    } finally {
      await sql.end();
    }
  },
);

Deno.test(
  "relay role: reads the outbox, and is refused (42501) everywhere else",
  real,
  async () => {
    const owner = db(1);
    const relay = connect(databaseUrlAs(cfg.databaseUrl, RELAY_ROLE, PASSWORD), {
      max: 1,
      applicationName: "tests-relay-role",
    });
    const refused = async (what: string, query: Promise<unknown>) => {
      await assert.rejects(query, (err: { code?: string; message?: string }) => {
        assert.equal(err.code, "42501", `${what}: ${err.message}`);
        return true;
      }, what);
    };
    try {
      const [{ who }] = await relay`select current_user as who`;
      assert.equal(who, RELAY_ROLE);
      await relay`select id, aggregatetype, aggregateid, payload from platform.outbox limit 1`;
      // The connector's heartbeat runs as this role too.
      await relay.unsafe(FILE["heartbeat.action.query"]);

      await refused(
        "insert into the outbox",
        relay`insert into platform.outbox (id, aggregatetype, aggregateid, type, payload)
        values (gen_random_uuid(), 'x', 'x', 'X', '{}')`,
      );
      await refused("delete from the outbox", relay`delete from platform.outbox`);
      await refused("update the outbox", relay`update platform.outbox set type = type`);

      // Every other table of the database, whichever schema the services keep it in.
      const tables = await owner<{ schema: string; name: string }[]>`
      select schemaname as schema, tablename as name from pg_tables
      where schemaname not in ('pg_catalog', 'information_schema')
        and (schemaname, tablename) <> ('platform', 'outbox')
      order by 1, 2`;
      assert.ok(tables.length >= 10, `the services' tables: ${tables.length}`);
      for (const t of tables) {
        await refused(
          `select from ${t.schema}.${t.name}`,
          relay`select 1 from ${relay(t.schema)}.${relay(t.name)} limit 1`,
        );
      }
    } finally {
      await relay.end();
      await owner.end();
    }
  },
);

Deno.test(
  "relay role: setup's verifier is the one PostgreSQL makes for the same password",
  real,
  async () => {
    // A throwaway role gets a password hashed by the server; our verifier from its salt must match,
    // or `deno task setup` would set a password the relay's login never matches.
    const sql = db(1);
    const role = unique("tests_scram_");
    const password = `pa$$ 'wörd' ${crypto.randomUUID()}`;
    try {
      await sql.unsafe(`set password_encryption = 'scram-sha-256'`);
      await sql.unsafe(`create role ${role} password '${password.replaceAll("'", "''")}'`);
      const [{ stored }] = await sql<{ stored: string }[]>`
      select rolpassword as stored from pg_authid where rolname = ${role}`;
      const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored)!;
      const saltBytes = Uint8Array.from(atob(salt), (c) => c.charCodeAt(0));
      assert.equal(await scramVerifier(password, saltBytes, Number(iterations)), stored);
    } finally {
      await sql.unsafe(`drop role if exists ${role}`);
      await sql.end();
    }
  },
);
