import { pino } from "pino";

export type Logger = pino.Logger;

const REDACTED = "<redacted>";

/**
 * Credentials a log line might carry if a headers object or a token ends up in it (CONTRACT §10:
 * tokens, Secret data and keys never appear in logs). Redaction only runs on lines being written.
 */
const SECRET_HEADERS = [
  "authorization",
  '["proxy-authorization"]',
  "cookie",
  '["set-cookie"]',
  '["x-gitlab-token"]',
];
const REDACT_PATHS = [
  ...SECRET_HEADERS.flatMap((header) => {
    const at = header.startsWith("[") ? header : `.${header}`;
    return [`headers${at}`, `*.headers${at}`];
  }),
  "token",
  "*.token",
  "accessToken",
  "secretToken",
  "password",
  "*.password",
  "privateKey",
  "stringData",
  "*.stringData",
];

/** Keys whose value is a URL: a password in its user-info part is masked. */
const URL_KEYS = ["url", "deadLetterSink", "subscriber", "sink", "uri"] as const;

/** `https://user:secret@host/` → `https://user:<redacted>@host/`; anything else unchanged. */
export function maskUrlPassword(value: unknown): unknown {
  if (typeof value !== "string" || !value.includes("@") || !URL.canParse(value)) return value;
  const url = new URL(value);
  if (url.password === "") return value;
  url.password = REDACTED;
  return url.toString().replace(encodeURIComponent(REDACTED), REDACTED);
}

const serializers = Object.fromEntries(URL_KEYS.map((key) => [key, maskUrlPassword]));

/** JSON lines on stdout; EVENTAIL_LOG_LEVEL picks the level (default info). */
export function createLogger(
  options: { level?: string; destination?: NodeJS.WritableStream } = {},
): Logger {
  const level = options.level ?? process.env["EVENTAIL_LOG_LEVEL"] ?? "info";
  return pino(
    {
      level,
      base: { service: "eventail" },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      serializers,
    },
    options.destination ?? pino.destination(1),
  );
}

/** A logger that writes nothing, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
