/**
 * Structured JSON logs, one object per line on stdout. Fields named like secrets are redacted so
 * a token or a password never reaches a log line, whoever passes it.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type Fields = Record<string, unknown>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie/i;

let threshold: number = RANK.info;

/** Sets the lowest level written; the config's LOG_LEVEL at start-up. */
export function setLogLevel(level: LogLevel): void {
  threshold = RANK[level];
}

function redact(fields: Fields): Fields {
  const out: Fields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET_KEY.test(k)) out[k] = "[redacted]";
    else if (v instanceof Error) out[k] = { name: v.name, message: v.message };
    else out[k] = v;
  }
  return out;
}

function write(level: LogLevel, base: Fields, msg: string, fields?: Fields): void {
  if (RANK[level] < threshold) return;
  const line = { time: new Date().toISOString(), level, msg, ...base, ...redact(fields ?? {}) };
  console.log(JSON.stringify(line));
}

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** A logger whose lines all carry `fields` (e.g. a request id, a consumer group). */
  child(fields: Fields): Logger;
}

/**
 * A logger for one component.
 * @example
 * const log = logger("migrate");
 * log.info("applied", { file: "0001_outbox.sql" });
 */
export function logger(component: string, base: Fields = {}): Logger {
  const all = { component, ...redact(base) };
  return {
    debug: (m, f) => write("debug", all, m, f),
    info: (m, f) => write("info", all, m, f),
    warn: (m, f) => write("warn", all, m, f),
    error: (m, f) => write("error", all, m, f),
    child: (f) => logger(component, { ...base, ...f }),
  };
}
