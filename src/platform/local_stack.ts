/**
 * Addresses of the local stack that `deno task stack:up` runs (see stack/). They are the defaults
 * of the configuration, so a fresh clone works without any environment. Ports sit away from the
 * standard ones so a system Postgres or Kafka on the same machine does not collide.
 *
 * `STACK_PORT_OFFSET` (default 0) shifts every port, so a second stack (with its own `STACK_DIR`)
 * runs beside the first: CI runs the end-to-end suite against a stack started apart this way, and
 * a fault run can have a stack of its own.
 */
function portOffset(): number {
  const raw = Deno.env.get("STACK_PORT_OFFSET") ?? "";
  const n = raw === "" ? 0 : Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 5000) {
    throw new RangeError(
      `Cannot use STACK_PORT_OFFSET as it must be an integer from 0 to 5000: current value is ${
        JSON.stringify(raw)
      }`,
    );
  }
  return n;
}
const offset = portOffset();

export const LOCAL_PORTS = {
  postgres: 54329 + offset,
  kafka: 59092 + offset,
  kafkaController: 59093 + offset,
  connect: 58083 + offset,
} as const;

export const LOCAL_STACK = {
  databaseUrl: `postgres://shop@127.0.0.1:${LOCAL_PORTS.postgres}/shop`,
  kafkaBrokers: `127.0.0.1:${LOCAL_PORTS.kafka}`,
  connectUrl: `http://127.0.0.1:${LOCAL_PORTS.connect}`,
} as const;
