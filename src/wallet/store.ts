/** Wallets: balances, charges and the WalletCharged event. */
import { z } from "zod";
import type { Sql, Tx } from "../platform/db.ts";
import { uuidv7 } from "../platform/uuidv7.ts";
import { publish } from "../events/publish.ts";
import { HttpProblem } from "../platform/http/problem.ts";

export const NewCharge = z.strictObject({
  amount: z.number().int().min(1).max(1_000_000_000),
}).meta({ id: "NewCharge" });
export type NewCharge = z.infer<typeof NewCharge>;

export const Wallet = z.object({ balance: z.number().int() }).meta({ id: "Wallet" });
export type Wallet = z.infer<typeof Wallet>;

/** WALLET_MAX_BALANCE's default: far below 2^53, where a balance stops being an exact number. */
export const DEFAULT_MAX_BALANCE = 1_000_000_000_000;

/** The problem a charge past the maximum balance gets (RFC 9457 `type`, `title`). */
export const BALANCE_LIMIT_PROBLEM = {
  type: "tag:shop,2025:wallet-balance-limit",
  title: "Wallet balance limit exceeded",
} as const;

/**
 * Adds `amount` to the user's balance (creating the wallet), records the charge and event. A
 * charge that would take the balance past `maxBalance` is 422 and writes nothing.
 * @throws {HttpProblem} 422 `BALANCE_LIMIT_PROBLEM`
 */
export async function charge(
  tx: Tx,
  userId: string,
  input: NewCharge,
  maxBalance: number,
  trace?: string,
): Promise<Wallet> {
  const chargeId = uuidv7();
  // The limit is a condition of the upsert itself, not a read before it: `on conflict do update
  // ... where` is evaluated on the row it has locked, so concurrent charges queue on the row and
  // each sees the balance the one before it left. No row returned: the charge would pass the limit.
  const [row] = await tx<{ balance: number }[]>`
    insert into wallets (user_id, balance)
    select ${userId}, ${input.amount}::bigint where ${input.amount}::bigint <= ${maxBalance}::bigint
    on conflict (user_id) do update
      set balance = wallets.balance + excluded.balance, updated_at = now()
      where wallets.balance + excluded.balance <= ${maxBalance}::bigint
    returning balance`;
  if (!row) {
    throw new HttpProblem(
      422,
      `A charge of ${input.amount} would take the balance past its maximum of ${maxBalance}`,
      { ...BALANCE_LIMIT_PROBLEM, maxBalance },
    );
  }
  const { balance } = row;
  await tx`
    insert into wallet_charges (id, user_id, amount) values (${chargeId}, ${userId}, ${input.amount})`;
  await publish(tx, [{
    type: "WalletCharged",
    payload: { chargeId, userId, amount: input.amount, balance },
  }], trace);
  return { balance };
}

/** The balance; 0 for a user who never charged. */
export async function balanceOf(sql: Sql, userId: string): Promise<Wallet> {
  const [row] = await sql<{ balance: number }[]>`
    select balance from wallets where user_id = ${userId}`;
  return { balance: row?.balance ?? 0 };
}
