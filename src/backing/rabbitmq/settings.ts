import type { BackingConfig } from "../backing.js";

/** How one RabbitMQ backing talks to its engine; every key comes from the ConfigMap. */
export interface RabbitSettings {
  /** `url` (amqp:// or amqps://, vhost in the path), else RABBITMQ_URL, else the local guest. */
  readonly url: string;
  /**
   * Queue type of each trigger's queue: `quorum` (replicated, counts deliveries in
   * x-delivery-count) or `classic` (single node; only a redelivered flag).
   */
  readonly queueType: "quorum" | "classic";
  /** Upper bound on publish() (publisher confirm included) before it rejects as unavailable. */
  readonly publishTimeoutMs: number;
  /** Upper bound on subscribe() declaring its exchange, queue and binding. */
  readonly subscribeTimeoutMs: number;
  /** First redelivery delay after a handler rejects; doubles per delivery up to 30 s. */
  readonly redeliveryDelayMs: number;
  /** AMQP heartbeat: a hung engine is noticed after about two of these. */
  readonly heartbeatSeconds: number;
  /**
   * A queue no process consumed from for this long is deleted by RabbitMQ (x-expires), so a
   * trigger deleted while no process ran pins no event for ever.
   */
  readonly queueExpiresMs: number;
}

export const DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672";

const DEFAULTS = {
  publishTimeoutMs: 4_000,
  subscribeTimeoutMs: 10_000,
  redeliveryDelayMs: 500,
  heartbeatSeconds: 5,
  queueExpiresMs: 7 * 24 * 3600 * 1000,
} as const;

type NumericKey = keyof typeof DEFAULTS;
const NUMERIC_KEYS = Object.keys(DEFAULTS) as NumericKey[];

/** Reads `config.settings`; throws naming the key when a value is wrong. */
export function parseRabbitSettings(
  config: BackingConfig,
  env: NodeJS.ProcessEnv = process.env,
): RabbitSettings {
  const settings = config.settings;
  const url = settings["url"] || env["RABBITMQ_URL"] || DEFAULT_RABBITMQ_URL;
  if (!/^amqps?:\/\//.test(url)) {
    throw new Error(
      `settings.url: ${JSON.stringify(redact(url))} is not an amqp:// or amqps:// URL`,
    );
  }
  const queueType = settings["queueType"] || "quorum";
  if (queueType !== "quorum" && queueType !== "classic") {
    throw new Error(
      `settings.queueType: ${JSON.stringify(queueType)} is not one of "quorum", "classic"`,
    );
  }
  const numbers: Record<NumericKey, number> = { ...DEFAULTS };
  for (const key of NUMERIC_KEYS) {
    const raw = settings[key];
    if (raw === undefined || raw === "") continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value <= 0) {
      throw new Error(`settings.${key}: ${JSON.stringify(raw)} is not a positive integer`);
    }
    numbers[key] = value;
  }
  return { url, queueType, ...numbers };
}

/** The URL without its password, for messages and logs. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, "//$1:***@");
}

/** Exponential backoff for redelivery after a handler rejected (deliveryCount starts at 1). */
export function redeliveryDelay(settings: RabbitSettings, deliveryCount: number): number {
  const exponent = Math.min(Math.max(deliveryCount - 1, 0), 16);
  return Math.min(settings.redeliveryDelayMs * 2 ** exponent, 30_000);
}
