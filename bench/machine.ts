/** The machine and the settings a report was measured with: its header. */
import type { Config } from "../src/platform/config.ts";
import type { Sql } from "../src/platform/db.ts";

export interface Machine {
  cores: number;
  memoryGiB: number;
  os: string;
  versions: string;
  settings: string;
}

export async function describeMachine(sql: Sql, cfg: Config): Promise<Machine> {
  const [{ pg }] = await sql<{ pg: string }[]>`select current_setting('server_version') as pg`;
  return {
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    versions: `Deno ${Deno.version.deno}, PostgreSQL ${pg}, Kafka 4.3.0, Debezium 3.6.1.Final`,
    settings: `TOPIC_PARTITIONS=${cfg.topicPartitions}, API pool 8, worker batch 500, ` +
      "Debezium poll.interval.ms=20, producer linger.ms=2",
  };
}
