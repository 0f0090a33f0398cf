/**
 * Idempotency-Key for POST routes with effects. The key row is claimed as the first statement
 * of the effect's transaction: a concurrent duplicate blocks on the primary key until the first
 * commits, then finds the stored response and replays it, so it never creates a second effect.
 * A 4xx rolls the claim back with everything else, so a corrected retry may reuse the key.
 */
import { z } from "zod";
import type { Sql, Tx } from "../db.ts";
import { HttpProblem } from "./problem.ts";
import { sha256Hex } from "../sha256.ts";

/** 1-255 visible ASCII characters. */
export const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,255}$/);

export interface StoredResponse<T> {
  status: number;
  body: T;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

function hashOf(body: unknown): string {
  return sha256Hex(JSON.stringify(canonical(body) ?? null));
}

/** Reads and checks the header; undefined when absent. */
export function idempotencyKeyOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const r = IdempotencyKey.safeParse(header);
  if (!r.success) {
    throw new HttpProblem(400, "The request is not valid", {
      errors: [{
        path: "header.Idempotency-Key",
        message: "must be 1-255 visible ASCII characters",
      }],
    });
  }
  return header;
}

/**
 * Runs `effect` in one transaction, at most once per (user, route, key); repeats get the first
 * response. Without a key it simply runs `effect` in a transaction.
 */
export async function withIdempotency<T>(
  sql: Sql,
  scope: { userId: string; route: string; key: string | undefined; body: unknown },
  effect: (tx: Tx) => Promise<StoredResponse<T>>,
): Promise<StoredResponse<T> & { replayed: boolean }> {
  const { userId, route, key } = scope;
  if (key === undefined) {
    return { ...(await sql.begin((tx) => effect(tx))), replayed: false };
  }
  const hash = hashOf(scope.body);
  return await sql.begin(async (tx) => {
    const claimed = await tx`
      insert into idempotency_keys (user_id, route, key, request_hash, status_code, response)
      values (${userId}, ${route}, ${key}, ${hash}, 0, 'null')
      on conflict do nothing
      returning 1`;
    if (claimed.length === 0) {
      const [row] = await tx<{ request_hash: string; status_code: number; response: T }[]>`
        select request_hash, status_code, response from idempotency_keys
        where user_id = ${userId} and route = ${route} and key = ${key}`;
      if (row.request_hash !== hash) {
        throw new HttpProblem(
          422,
          "This Idempotency-Key was already used with a different request body",
        );
      }
      return { status: row.status_code, body: row.response, replayed: true };
    }
    const result = await effect(tx);
    await tx`
      update idempotency_keys
      set status_code = ${result.status}, response = ${tx.json(result.body as never)}
      where user_id = ${userId} and route = ${route} and key = ${key}`;
    return { ...result, replayed: false };
  });
}

/** Deletes keys older than `olderThanMs` (replays are promised for that long). */
export async function purgeIdempotencyKeys(sql: Sql, olderThanMs: number): Promise<number> {
  const rows = await sql`
    delete from idempotency_keys
    where created_at < now() - make_interval(secs => ${olderThanMs / 1000})
    returning 1`;
  return rows.length;
}
