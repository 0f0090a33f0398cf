/**
 * The failure classifier against real errors: what postgres.js, Postgres and kafkajs actually
 * throw, not hand-made objects. Infrastructure (wait, 503), transient (retry, then DLQ), data
 * (DLQ at once).
 */
import { withLocalPassword } from "../../src/platform/local_stack.ts";
import assert from "node:assert/strict";
import postgres from "postgres";
import { classifyError, type ErrorKind, NotVisibleYet } from "../../src/platform/errors.ts";
import { kafkaClient } from "../../src/platform/kafka.ts";
import { cfg, db, real, unique } from "../helpers/stack.ts";
import { waitFor } from "../../src/platform/wait_for.ts";

async function kindOf(fail: () => Promise<unknown>): Promise<{ kind: ErrorKind; err: unknown }> {
  try {
    await fail();
  } catch (err) {
    return { kind: classifyError(err), err };
  }
  throw new Error("expected a failure");
}

/** One query through a fresh postgres.js client at `url`. */
async function queryAt(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await sql`select 1`;
  } finally {
    await sql.end({ timeout: 0 });
  }
}

Deno.test("classifier: network and name-resolution failures are infrastructure", real, async () => {
  const dns = await kindOf(() => queryAt("postgres://x@db.shop-tests.invalid:5432/x"));
  assert.equal((dns.err as { code?: string }).code, "ENOTFOUND");
  assert.equal(dns.kind, "infrastructure");

  const refused = await kindOf(() => queryAt("postgres://x@127.0.0.1:1/x"));
  assert.equal((refused.err as { code?: string }).code, "ECONNREFUSED");
  assert.equal(refused.kind, "infrastructure");

  // A backend terminated under a client (what a Postgres restart or failover looks like).
  const sql = db(1);
  const victim = postgres(withLocalPassword(cfg.databaseUrl), { max: 1, onnotice: () => {} });
  try {
    const [{ pid }] = await victim<{ pid: number }[]>`select pg_backend_pid() as pid`;
    // Terminated while a query runs on it: a terminated idle connection may be replaced before
    // the next query is sent, and that query would then succeed. kindOf attaches the handler at
    // once: the victim's socket can see the termination before pg_terminate_backend's own reply
    // arrives, and a rejection with no handler yet fails the whole module (it did in CI).
    const running = kindOf(() => victim`select pg_sleep(30)`);
    await waitFor(
      async () =>
        (await sql`select 1 from pg_stat_activity where pid = ${pid} and state = 'active'`)
          .length === 1,
      { timeoutMs: 10_000, what: "the victim's query to run" },
    );
    await sql`select pg_terminate_backend(${pid})`;
    const terminated = await running;
    assert.equal(terminated.kind, "infrastructure", String(terminated.err));

    // Read-only during a failover (25006).
    const readOnly = await kindOf(() =>
      sql.begin(async (tx) => {
        await tx`set transaction read only`;
        await tx`create temp table never_created (a int)`;
      })
    );
    assert.equal((readOnly.err as { code?: string }).code, "25006");
    assert.equal(readOnly.kind, "infrastructure");
  } finally {
    await victim.end({ timeout: 0 });
    await sql.end();
  }
});

Deno.test(
  "classifier: statement timeout is transient; deterministic SQL errors are data",
  real,
  async () => {
    const sql = db(1);
    try {
      const timeout = await kindOf(() =>
        sql.begin(async (tx) => {
          await tx`set local statement_timeout = 20`;
          await tx`select pg_sleep(1)`;
        })
      );
      assert.equal((timeout.err as { code?: string }).code, "57014");
      assert.equal(timeout.kind, "transient");

      const table = unique("classifier_");
      await sql.unsafe(`create temp table ${table} (id int primary key)`);
      await sql.unsafe(`insert into ${table} values (1)`);
      for (
        const [statement, code] of [
          [`insert into ${table} values (1)`, "23505"], // unique_violation
          ["select 1/0", "22012"], // division_by_zero
          ["selec 1", "42601"], // syntax_error
          ["select * from no_such_table_anywhere", "42P01"], // undefined_table
        ]
      ) {
        const r = await kindOf(() => sql.unsafe(statement));
        assert.equal((r.err as { code?: string }).code, code, statement);
        assert.equal(r.kind, "data", statement);
      }
    } finally {
      await sql.end();
    }
  },
);

Deno.test("classifier: an unreachable broker is infrastructure; a bug is data", real, async () => {
  const kafka = kafkaClient({ brokers: ["127.0.0.1:1"], login: "anonymous" }, "classifier-test", {
    silent: true,
    retries: 0,
  });
  const producer = kafka.producer();
  const r = await kindOf(() => producer.connect());
  assert.equal(r.kind, "infrastructure", String(r.err));
  await producer.disconnect().catch(() => {});

  assert.equal(classifyError(new TypeError("x is undefined")), "data");
  // A row an event refers to, not visible yet: retried, then dead-lettered.
  assert.equal(classifyError(new NotVisibleYet("order x not found")), "transient");
  // The cause chain counts: a wrapped connection error is still infrastructure.
  const wrapped = await kindOf(() => queryAt("postgres://x@127.0.0.1:1/x"));
  assert.equal(classifyError(new Error("run failed", { cause: wrapped.err })), "infrastructure");
});
