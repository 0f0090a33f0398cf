/** `deno task setup`: migrate, create topics, register the relay (see src/system_setup.ts). */
import { config } from "../platform/config.ts";
import { logger, setLogLevel } from "../platform/log.ts";
import { setup } from "../system_setup.ts";

setLogLevel(config().logLevel);
try {
  await setup();
} catch (err) {
  logger("setup").error("setup failed", { error: err });
  Deno.exitCode = 1;
}
