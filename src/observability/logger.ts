import { pino } from "pino";

export type Logger = pino.Logger;

/** JSON lines on stdout; EVENTAIL_LOG_LEVEL picks the level (default info). */
export function createLogger(
  options: { level?: string; destination?: NodeJS.WritableStream } = {},
): Logger {
  const level = options.level ?? process.env["EVENTAIL_LOG_LEVEL"] ?? "info";
  return pino({ level, base: { service: "eventail" } }, options.destination ?? pino.destination(1));
}

/** A logger that writes nothing, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
