/**
 * `deno task relay:register`: registers the one Debezium connector (relay/connector.json) with
 * Kafka Connect, idempotently, then waits until connector and task are RUNNING and the
 * replication slot is active. Used by the local stack, CI and compose's one-shot service.
 *
 * The file holds everything but what depends on the environment: the database coordinates
 * (from RELAY_DATABASE_URL, else DATABASE_URL, as Connect sees the database) and the partitions
 * and replication factor of topics Connect creates (TOPIC_PARTITIONS, TOPIC_REPLICATION_FACTOR).
 * The connector logs in as the relay's own role (relay/role.ts), never as the URL's user, and its
 * password is a config provider placeholder that only the Connect worker resolves.
 */
import postgres from "postgres";
import { type Config, config } from "../src/platform/config.ts";
import { logger, setLogLevel } from "../src/platform/log.ts";
import { waitFor } from "../src/platform/wait_for.ts";
import {
  RELAY_PASSWORD_PLACEHOLDER,
  RELAY_PASSWORD_VAR,
  RELAY_ROLE,
  setRelayPassword,
} from "./role.ts";
import { failedTrace } from "./restart.ts";
import {
  isLocalDatabase,
  localDatabasePassword,
  withLocalPassword,
} from "../src/platform/local_stack.ts";

const CONNECTOR_FILE = new URL("./connector.json", import.meta.url);

export interface ConnectorFile {
  name: string;
  config: Record<string, string>;
}

export interface ConnectorStatus {
  name: string;
  connector: { state: string; trace?: string };
  tasks: { id: number; state: string; trace?: string; worker_id?: string }[];
}

/** Registration did not reach a running relay; the message says which part failed. */
export class RelayError extends Error {
  override name = "RelayError";
}

/** The connector file as committed. */
export async function readConnectorFile(): Promise<ConnectorFile> {
  return JSON.parse(await Deno.readTextFile(CONNECTOR_FILE));
}

/**
 * The connector file completed with the environment's database and topic settings. Only where
 * the database is comes from the URL: its user and password are the owner's, which the relay
 * must not have. The config holds no secret, so Connect's REST API and its config topic show
 * none.
 */
export async function connectorConfig(cfg: Config): Promise<ConnectorFile> {
  const file = await readConnectorFile();
  const db = new URL(cfg.relayDatabaseUrl ?? cfg.databaseUrl);
  return {
    name: file.name,
    config: {
      ...file.config,
      "database.hostname": db.hostname,
      "database.port": db.port || "5432",
      "database.user": RELAY_ROLE,
      "database.password": RELAY_PASSWORD_PLACEHOLDER,
      "database.dbname": db.pathname.replace(/^\//, ""),
      "topic.creation.default.partitions": String(cfg.topicPartitions),
      "topic.creation.default.replication.factor": String(cfg.topicReplicationFactor),
    },
  };
}

/** GET /connectors/:name/status, or undefined if the connector does not exist. */
export async function connectorStatus(
  connectUrl: string,
  name: string,
): Promise<ConnectorStatus | undefined> {
  const res = await fetch(`${connectUrl}/connectors/${name}/status`, {
    signal: AbortSignal.timeout(5000),
  });
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok) throw new RelayError(`Connect answered ${res.status}: ${await res.text()}`);
  return await res.json();
}

function isRunning(s: ConnectorStatus | undefined): boolean {
  return s?.connector.state === "RUNNING" && s.tasks.length > 0 &&
    s.tasks.every((t) => t.state === "RUNNING");
}

export interface RegisterOptions {
  /** Deadline for each wait (Connect up, RUNNING, slot active). @default 60000 */
  timeoutMs?: number;
  /**
   * The relay role's password to set before the connector logs in with it; empty: left as it is.
   * @default RELAY_DATABASE_PASSWORD, else the local stack's own (its Postgres trusts no one)
   */
  relayPassword?: string;
}

/**
 * Sets the relay role's password from RELAY_DATABASE_PASSWORD when given, PUTs the connector
 * config (create or update: idempotent), restarts a FAILED connector or task once, and waits for
 * RUNNING and for the slot to be active. Throws RelayError otherwise.
 */
export async function registerConnector(cfg: Config, opts: RegisterOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const log = logger("relay");
  const { name, config: body } = await connectorConfig(cfg);
  const base = cfg.kafkaConnectUrl;

  // Before the PUT: a task (re)started by it logs in with the password Connect resolves.
  const password = opts.relayPassword ?? Deno.env.get(RELAY_PASSWORD_VAR) ??
    (isLocalDatabase(cfg.databaseUrl) ? localDatabasePassword(RELAY_ROLE) : undefined) ?? "";
  if (password !== "") {
    const owner = postgres(withLocalPassword(cfg.databaseUrl), { max: 1, onnotice: () => {} });
    try {
      await setRelayPassword(owner, password);
      log.info("relay role password set", { role: RELAY_ROLE });
    } catch (err) {
      throw new RelayError(
        `Cannot set the password of ${RELAY_ROLE} (${(err as Error).message}): run migrations ` +
          `first; where the database user may not alter a REPLICATION role, have a superuser ` +
          `set it and leave ${RELAY_PASSWORD_VAR} unset for setup (Connect still needs it)`,
      );
    } finally {
      await owner.end();
    }
  }

  await waitFor(async () => (await fetch(base, { signal: AbortSignal.timeout(2000) })).ok, {
    timeoutMs,
    what: `Kafka Connect at ${base}`,
  }).catch((err) => {
    throw new RelayError(`${err.message} (is the stack up? 'deno task stack:status')`);
  });

  const put = await fetch(`${base}/connectors/${name}/config`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const putText = await put.text();
  if (!put.ok) {
    // Connect 4.3 answers a failed connection test of the validation with a bare 500 (a
    // NullPointerException); the cause is in its log.
    throw new RelayError(
      `Connect refused the connector config (${put.status}): ${putText}\n` +
        `Connect's log says why; "Failed testing connection ... with user '${RELAY_ROLE}'" means ` +
        `the worker lacks ${RELAY_PASSWORD_VAR} or it differs from the role's password`,
    );
  }
  log.info(put.status === 201 ? "connector created" : "connector config applied", {
    connector: name,
  });

  let restarted = false;
  try {
    await waitFor(async () => {
      const s = await connectorStatus(base, name);
      const trace = failedTrace(s);
      if (trace && !restarted) {
        restarted = true;
        log.warn("connector or task FAILED; restarting once", {
          connector: name,
          trace: trace.split("\n")[0],
        });
        await fetch(`${base}/connectors/${name}/restart?includeTasks=true&onlyFailed=true`, {
          method: "POST",
        }).then((r) => r.body?.cancel());
        return false;
      }
      if (trace) throw new RelayError(`connector ${name} FAILED:\n${trace}`);
      return isRunning(s);
    }, { timeoutMs, what: `connector ${name} and its task to be RUNNING` });
  } catch (err) {
    const s = await connectorStatus(base, name).catch(() => undefined);
    throw new RelayError(`${(err as Error).message}\nstatus: ${JSON.stringify(s, null, 2)}`);
  }

  const slot = body["slot.name"];
  const sql = postgres(withLocalPassword(cfg.databaseUrl), { max: 1, onnotice: () => {} });
  try {
    await waitFor(async () => {
      const [row] = await sql<{ active: boolean }[]>`
        select active from pg_replication_slots where slot_name = ${slot}`;
      return row?.active;
    }, { timeoutMs, what: `replication slot ${slot} to be active` });
  } catch (err) {
    throw new RelayError((err as Error).message);
  } finally {
    await sql.end();
  }
  log.info("relay running", { connector: name, slot });
}

if (import.meta.main) {
  const cfg = config();
  setLogLevel(cfg.logLevel);
  try {
    await registerConnector(cfg);
  } catch (err) {
    if (!(err instanceof RelayError)) throw err;
    logger("relay").error(err.message);
    Deno.exitCode = 1;
  }
}
