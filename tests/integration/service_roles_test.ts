/**
 * Service boundaries enforced by the database (migrations/0010_service_roles.sql): each role is
 * refused (SQLSTATE 42501) on every other service's tables, inserts into the outbox, claims only
 * its own inbox rows; and the processes really log in as their roles.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { connect, databaseUrlAs, type Sql } from "../../src/platform/db.ts";
import { uuidv7 } from "../../src/platform/uuidv7.ts";
import { API_ROLE, OPS_ROLE } from "../../src/app.ts";
import { SERVICES } from "../../src/workers.ts";
import { waitFor } from "../../src/platform/wait_for.ts";
import { cfg, db, real } from "../helpers/stack.ts";
import { purgeOutbox } from "../../src/platform/outbox.ts";
import { purgeIdempotencyKeys } from "../../src/platform/http/idempotency.ts";
import { RELAY_SLOT } from "../../relay/slot.ts";
import { Workers } from "../helpers/workers.ts";
import { startApiProcess } from "../helpers/api_process.ts";

/** One statement per service's table, each a write a stranger must not do. */
const STRANGER_WRITES: Record<string, string> = {
  orders: "update orders.orders set status = status where false",
  inventory: "update inventory.products set stock = stock where false",
  coupons: "update coupons.coupons set issued_quantity = issued_quantity where false",
  wallet: "update wallet.wallets set balance = balance where false",
  best_sellers: "update best_sellers.hourly_units set units = units where false",
};
const STRANGER_READS: Record<string, string> = {
  orders: "select 1 from orders.order_steps limit 1",
  inventory: "select 1 from inventory.inventory_reservations limit 1",
  coupons: "select 1 from coupons.user_coupons limit 1",
  wallet: "select 1 from wallet.payments limit 1",
  best_sellers: "select 1 from best_sellers.pending_orders limit 1",
};

/** The schema each worker's role owns. */
const OWN_SCHEMA: Record<string, string> = {
  inventory: "inventory",
  "coupon-issuer": "coupons",
  "coupon-redeemer": "coupons",
  payment: "wallet",
  "order-saga": "orders",
  "best-sellers": "best_sellers",
};

async function sqlState(sql: Sql, statement: string): Promise<string | undefined> {
  try {
    await sql.unsafe(statement);
    return undefined;
  } catch (err) {
    if (err instanceof postgres.PostgresError) return err.code;
    throw err;
  }
}

class RolledBack extends Error {}

/** Runs `fn` in a transaction that is always rolled back: the test leaves nothing behind. */
async function rolledBack(sql: Sql, fn: (tx: postgres.TransactionSql) => Promise<void>) {
  await sql.begin(async (tx) => {
    await fn(tx);
    throw new RolledBack();
  }).catch((err) => {
    if (!(err instanceof RolledBack)) throw err;
  });
}

async function asRole<T>(role: string, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = connect(databaseUrlAs(cfg.databaseUrl, role), { max: 1, applicationName: "tests" });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

Deno.test("roles: every worker is refused on the other services' tables", real, async (t) => {
  for (const [group, service] of Object.entries(SERVICES)) {
    await t.step(`${group} (${service.role})`, async () => {
      await asRole(service.role, async (sql) => {
        const [me] = await sql<{ who: string }[]>`select current_user as who`;
        assert.equal(me.who, service.role);
        for (const schema of Object.keys(STRANGER_WRITES)) {
          if (schema === OWN_SCHEMA[group]) {
            // Its own tables: allowed (the control that makes the refusals mean something).
            assert.equal(await sqlState(sql, STRANGER_WRITES[schema]), undefined, schema);
            assert.equal(await sqlState(sql, STRANGER_READS[schema]), undefined, schema);
          } else {
            assert.equal(await sqlState(sql, STRANGER_WRITES[schema]), "42501", schema);
            assert.equal(await sqlState(sql, STRANGER_READS[schema]), "42501", schema);
          }
        }
        // The outbox: insert only; never read, never delete (the API's purge does that).
        assert.equal(await sqlState(sql, "select 1 from platform.outbox limit 1"), "42501");
        assert.equal(await sqlState(sql, "delete from platform.outbox where false"), "42501");
        assert.equal(await sqlState(sql, "select 1 from platform.idempotency_keys"), "42501");
        if (group === "best-sellers") {
          // A read model publishes nothing: not even the outbox insert the others have.
          assert.equal(
            await sqlState(
              sql,
              `insert into platform.outbox (id, aggregatetype, aggregateid, type, payload)
               values ('${uuidv7()}', 'order', 'roles-test', 'RolesTest', '{}')`,
            ),
            "42501",
          );
        }
        // Another group's inbox row is refused by the row policy; its own is claimed.
        const other = Object.keys(SERVICES).find((g) => g !== group)!;
        assert.equal(
          await sqlState(
            sql,
            `insert into platform.inbox (consumer_group, event_id) values ('${other}', '${uuidv7()}')`,
          ),
          "42501",
        );
        await rolledBack(sql, async (tx) => {
          const claimed = await tx`
            insert into platform.inbox (consumer_group, event_id) values (${group}, ${uuidv7()})
            returning 1`;
          assert.equal(claimed.length, 1);
          const foreign = await tx`
            select count(*)::int as n from platform.inbox where consumer_group <> ${group}`;
          assert.equal(foreign[0].n, 0, "another group's inbox rows are invisible");
        });
      });
    });
  }
});

Deno.test("roles: a worker's role inserts into the outbox", real, async () => {
  // Insert-only is enough for the outbox writer (ids are made here, nothing is returned).
  await asRole(SERVICES.payment.role, async (sql) => {
    await rolledBack(sql, async (tx) => {
      const inserted = await tx`
        insert into platform.outbox (id, aggregatetype, aggregateid, type, payload)
        values (${uuidv7()}, 'payment', 'roles-test', 'RolesTest', '{}')`;
      assert.equal(inserted.count, 1);
    });
  });
});

Deno.test("roles: the API's role has what its routes need and nothing else", real, async () => {
  await asRole(API_ROLE, async (sql) => {
    // What the routes do (the e2e suite runs them all under this role).
    for (
      const ok of [
        "select 1 from orders.orders limit 1",
        "select 1 from inventory.products limit 1",
        "select 1 from coupons.user_coupons limit 1",
        "select 1 from wallet.wallets limit 1",
        "select 1 from platform.idempotency_keys limit 1",
        // GET /products/best-sellers: the projection's answer and how far it is applied.
        "select 1 from best_sellers.hourly_units limit 1",
        "select 1 from best_sellers.applied_through limit 1",
      ]
    ) assert.equal(await sqlState(sql, ok), undefined, ok);
    // What only the services' workers do: apply the saga's effects.
    for (
      const refused of [
        "update orders.orders set status = status where false",
        "select 1 from orders.order_steps limit 1",
        "update inventory.products set stock = stock where false",
        "select 1 from inventory.inventory_reservations limit 1",
        "update coupons.user_coupons set status = status where false",
        "update coupons.coupons set issued_quantity = issued_quantity where false",
        "select 1 from coupons.coupon_redemptions limit 1",
        "select 1 from wallet.payments limit 1",
        "select 1 from platform.inbox limit 1",
        "select 1 from platform.dead_letter_log limit 1",
        "select 1 from best_sellers.pending_orders limit 1",
        "update best_sellers.hourly_units set units = units where false",
      ]
    ) assert.equal(await sqlState(sql, refused), "42501", refused);
    // The API's retention jobs run under its role too (a year's retention: nothing is deleted,
    // but every statement and lock of the purge runs).
    const year = 365 * 24 * 3600_000;
    assert.equal(await purgeOutbox(sql, year, { slot: RELAY_SLOT }), 0);
    assert.equal(await purgeIdempotencyKeys(sql, year), 0);
  });
});

Deno.test(
  "roles: the ops console reads everything, changes no service's data, replays via the outbox",
  real,
  async () => {
    await asRole(OPS_ROLE, async (sql) => {
      for (const read of Object.values(STRANGER_READS)) {
        assert.equal(await sqlState(sql, read), undefined, read);
      }
      assert.equal(await sqlState(sql, "select 1 from platform.inbox limit 1"), undefined);
      for (const write of Object.values(STRANGER_WRITES)) {
        assert.equal(await sqlState(sql, write), "42501", write);
      }
      assert.equal(await sqlState(sql, "delete from platform.outbox where false"), "42501");
      assert.equal(await sqlState(sql, "update platform.outbox set type = type"), "42501");
      // A dead-letter replay re-inserts the event into the outbox (migration 0012); a replay
      // or discard, once recorded, is never changed.
      await rolledBack(sql, async (tx) => {
        const inserted = await tx`
          insert into platform.outbox (id, aggregatetype, aggregateid, type, payload, replayed_from)
          values (${uuidv7()}, 'payment', 'roles-test', 'RolesTest', '{}', 'roles-test')`;
        assert.equal(inserted.count, 1);
      });
      assert.equal(
        await sqlState(sql, "update platform.dead_letter_replays set replayed_at = now()"),
        "42501",
      );
    });
  },
);

Deno.test("roles: nobody but the owner creates objects in public", real, async () => {
  await asRole(API_ROLE, async (sql) => {
    assert.equal(await sqlState(sql, "create table public.roles_test (id int)"), "42501");
  });
});

Deno.test("roles: each worker process and the API log in as their own roles", real, async () => {
  const sql = db(1);
  const workers = new Workers();
  const apiProcess = await startApiProcess();
  try {
    await workers.start();
    const expected: Record<string, string> = {
      ...Object.fromEntries(Object.entries(SERVICES).map(([group, s]) => [group, s.role])),
      // The routes' pool (readiness probes it), the retention purges' and the console's (which
      // the gauges use at once).
      api: API_ROLE,
      "api-retention": API_ROLE,
      "api-ops": OPS_ROLE,
    };
    let seen: Record<string, string> = {};
    await waitFor(async () => {
      await (await fetch(`${apiProcess.url}/health/ready`)).body?.cancel();
      const rows = await sql<{ app: string; who: string }[]>`
        select distinct application_name as app, usename as who from pg_stat_activity
        where application_name = any(${Object.keys(expected)})`;
      seen = Object.fromEntries(rows.map((r) => [`${r.app} as ${r.who}`, r.who]));
      return rows.length >= Object.keys(expected).length;
    }, { timeoutMs: 60_000, what: "every worker's connections" });
    // One login per worker, each its own role (a second role of one worker shows as an extra).
    assert.deepEqual(
      seen,
      Object.fromEntries(Object.entries(expected).map(([app, who]) => [`${app} as ${who}`, who])),
    );
  } finally {
    await workers.stopAll();
    await apiProcess.stop();
    await sql.end();
  }
});

Deno.test("roles: no foreign key crosses a schema", real, async () => {
  const sql = db(1);
  try {
    const crossing = await sql<{ name: string }[]>`
      select c.conname as name from pg_constraint c
      join pg_class t on t.oid = c.conrelid
      join pg_class r on r.oid = c.confrelid
      where c.contype = 'f' and t.relnamespace <> r.relnamespace`;
    assert.deepEqual(crossing.map((c) => c.name), []);
    // The control: foreign keys inside a service's schema are still there.
    const inside = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_constraint where contype = 'f'
        and conrelid = 'orders.order_steps'::regclass`;
    assert.equal(inside[0].n, 1);
  } finally {
    await sql.end();
  }
});
