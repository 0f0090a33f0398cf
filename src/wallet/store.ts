/** Wallets: balances, charges and the WalletCharged event. */
import { z } from "zod";
import type { Sql, Tx } from "../platform/db.ts";
import { uuidv7 } from "../platform/uuidv7.ts";
import { publish } from "../events/publish.ts";

export const NewCharge = z.strictObject({
  amount: z.number().int().min(1).max(1_000_000_000),
}).meta({ id: "NewCharge" });
export type NewCharge = z.infer<typeof NewCharge>;

export const Wallet = z.object({ balance: z.number().int() }).meta({ id: "Wallet" });
export type Wallet = z.infer<typeof Wallet>;

/** Adds `amount` to the user's balance (creating the wallet), records the charge and event. */
export async function charge(
  tx: Tx,
  userId: string,
  input: NewCharge,
  trace?: string,
): Promise<Wallet> {
  const chargeId = uuidv7();
  const [{ balance }] = await tx<{ balance: number }[]>`
    insert into wallets (user_id, balance) values (${userId}, ${input.amount})
    on conflict (user_id) do update
      set balance = wallets.balance + excluded.balance, updated_at = now()
    returning balance`;
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
