/**
 * A wallet holds at most WALLET_MAX_BALANCE (default 10^12): a charge that would pass it is 422
 * problem+json of its own type and writes nothing (every table's checksum unchanged), also when
 * charges race, since the limit is a condition of the balance's upsert, not a read before it.
 * Before, there was no limit: past 2^53 a balance is no exact number and every charge was a 500.
 */
import assert from "node:assert/strict";
import { api, newUser, type Reply } from "../helpers/api.ts";
import { tableChecksums } from "../helpers/table_checksums.ts";
import { db, real } from "../helpers/stack.ts";
import { BALANCE_LIMIT_PROBLEM } from "../../src/wallet/store.ts";

const sql = db(4);

/** Asserts `res` is the limit's 422 problem. */
function assertLimit(res: Reply, maxBalance: number) {
  assert.equal(res.status, 422, JSON.stringify(res.body));
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.equal(res.body.type, BALANCE_LIMIT_PROBLEM.type);
  assert.equal(res.body.title, BALANCE_LIMIT_PROBLEM.title);
  assert.equal(res.body.status, 422);
  assert.equal(res.body.maxBalance, maxBalance);
}

Deno.test("wallet limit: a charge past the maximum is 422 and writes nothing", real, async () => {
  const { call } = api({ walletMaxBalance: 1000 });
  const u = newUser("cap");
  const charge = (amount: number, headers: Record<string, string> = {}) =>
    call("POST", "/wallet/charges", { token: u.token, body: { amount }, headers });

  // A new wallet: the first charge alone may not pass it either.
  let before = await tableChecksums(sql);
  assertLimit(await charge(1001), 1000);
  assert.deepEqual(await tableChecksums(sql), before, "nothing written");

  assert.deepEqual((await charge(600)).body, { balance: 600 });
  before = await tableChecksums(sql);
  // With an Idempotency-Key too: the 4xx stores no key, so a smaller retry may reuse it.
  assertLimit(await charge(401, { "idempotency-key": "cap-1" }), 1000);
  assert.deepEqual(await tableChecksums(sql), before, "nothing written");
  assert.deepEqual((await charge(400, { "idempotency-key": "cap-1" })).body, { balance: 1000 });
  assertLimit(await charge(1), 1000);
  assert.deepEqual((await call("GET", "/wallet", { token: u.token })).body, { balance: 1000 });
});

Deno.test("wallet limit: racing charges never pass it together", real, async () => {
  const { call } = api({ walletMaxBalance: 1000 });
  const u = newUser("race");
  const replies = await Promise.all(
    Array.from(
      { length: 24 },
      () => call("POST", "/wallet/charges", { token: u.token, body: { amount: 100 } }),
    ),
  );
  const statuses = replies.map((r) => r.status).sort();
  assert.deepEqual(statuses, [...Array(10).fill(200), ...Array(14).fill(422)]);
  for (const r of replies.filter((r) => r.status === 422)) assertLimit(r, 1000);
  const [{ balance }] = await sql`select balance from wallets where user_id = ${u.id}`;
  assert.equal(balance, 1000);
  const [{ n }] = await sql`select count(*)::int as n from wallet_charges where user_id = ${u.id}`;
  assert.equal(n, 10);
  const [{ events }] = await sql`
    select count(*)::int as events from outbox
    where type = 'WalletCharged' and payload->>'userId' = ${u.id}`;
  assert.equal(events, 10);
});

Deno.test(
  "wallet limit: the default is 10^12, and a balance near 2^53 is 422, not 500",
  real,
  async () => {
    const { call } = api();
    const u = newUser("big");
    assert.equal(
      (await call("POST", "/wallet/charges", { token: u.token, body: { amount: 1 } })).status,
      200,
    );
    // Set as the owner: no sequence of allowed charges reaches these balances quickly.
    await sql`update wallets set balance = ${1e12 - 5} where user_id = ${u.id}`;
    const charge = (amount: number) =>
      call("POST", "/wallet/charges", { token: u.token, body: { amount } });
    let before = await tableChecksums(sql);
    assertLimit(await charge(6), 1e12);
    assert.deepEqual(await tableChecksums(sql), before, "nothing written");
    assert.deepEqual((await charge(5)).body, { balance: 1e12 });

    await sql`update wallets set balance = ${2 ** 53 - 10} where user_id = ${u.id}`;
    before = await tableChecksums(sql);
    assertLimit(await charge(100), 1e12);
    assert.deepEqual(await tableChecksums(sql), before, "nothing written");
  },
);
