/**
 * `deno task worker <name>`: runs one service's consumer group in this process until SIGINT or
 * SIGTERM (then: stop fetching, finish the records in hand, commit, disconnect). A consumer
 * crash kafkajs will not restart exits non-zero, so a supervisor restarts the process.
 */
import { config } from "./platform/config.ts";
import { connect } from "./platform/db.ts";
import { kafkaClient } from "./platform/kafka.ts";
import { logger, setLogLevel } from "./platform/log.ts";
import { runService, type Service } from "./platform/consumer.ts";
import { retentionJobs, scheduleRetention } from "./platform/retention.ts";
import { couponIssuer } from "./coupons/issuer.ts";
import { couponRedeemer } from "./coupons/redeemer.ts";
import { inventory } from "./inventory/reservations.ts";
import { payment } from "./wallet/payment.ts";
import { orderSaga } from "./orders/saga.ts";

export const SERVICES: Record<string, Service> = {
  "coupon-issuer": couponIssuer,
  inventory,
  "coupon-redeemer": couponRedeemer,
  payment,
  "order-saga": orderSaga,
};
export const WORKERS = Object.keys(SERVICES);

if (import.meta.main) {
  const name = Deno.args[0];
  const service = SERVICES[name];
  if (!service) {
    console.error(
      `Cannot start worker ${JSON.stringify(name ?? "")}: expected one of ${WORKERS.join(", ")}`,
    );
    Deno.exit(64);
  }
  const cfg = config();
  setLogLevel(cfg.logLevel);
  const log = logger("worker", { service: name });
  const sql = connect(cfg.databaseUrl, { max: cfg.topicPartitions + 1, applicationName: name });
  const kafka = kafkaClient(cfg.kafkaBrokers, name);
  const running = await runService(service, { sql, kafka, log, partitions: cfg.topicPartitions });
  const stopRetention = scheduleRetention(
    [retentionJobs.inbox(sql, service.group, cfg.inboxRetentionHours)],
    log,
  );

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down");
    stopRetention();
    await running.stop().catch((err) => log.error("stop failed", { error: err }));
    await sql.end({ timeout: 5 });
    Deno.exit(code);
  };
  Deno.addSignalListener("SIGINT", () => stop(0));
  Deno.addSignalListener("SIGTERM", () => stop(0));
  running.crashed.catch((err) => {
    log.error("consumer crashed for good; exiting so a supervisor restarts us", { error: err });
    stop(1);
  });
}
