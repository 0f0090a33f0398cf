/**
 * `deno task worker <name>`: runs one consumer group's handlers in this process.
 * The names are fixed by the architecture; the handlers arrive with the workers issue.
 */
export const WORKERS = [
  "coupon-issuer",
  "inventory",
  "coupon-redeemer",
  "payment",
  "order-saga",
] as const;
export type WorkerName = (typeof WORKERS)[number];

if (import.meta.main) {
  const name = Deno.args[0];
  if (!WORKERS.includes(name as WorkerName)) {
    console.error(
      `Cannot start worker ${JSON.stringify(name ?? "")}: expected one of ${WORKERS.join(", ")}`,
    );
    Deno.exit(64);
  }
  console.error(`worker ${name}: no handlers are built yet`);
  Deno.exit(1);
}
