/**
 * Addresses of the local stack that `deno task stack:up` runs (see stack/). They are the defaults
 * of the configuration, so a fresh clone works without any environment. Ports sit away from the
 * standard ones so a system Postgres or Kafka on the same machine does not collide.
 */
export const LOCAL_PORTS = {
  postgres: 54329,
  kafka: 59092,
  kafkaController: 59093,
  connect: 58083,
} as const;

export const LOCAL_STACK = {
  databaseUrl: `postgres://shop@127.0.0.1:${LOCAL_PORTS.postgres}/shop`,
  kafkaBrokers: `127.0.0.1:${LOCAL_PORTS.kafka}`,
  connectUrl: `http://127.0.0.1:${LOCAL_PORTS.connect}`,
} as const;
