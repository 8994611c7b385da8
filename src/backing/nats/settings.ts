import type { BackingConfig } from "../backing.js";

/** How one NATS JetStream backing talks to its engine; every key comes from the ConfigMap. */
export interface NatsSettings {
  /** Comma-separated server URLs (`url`, else NATS_URL, else nats://127.0.0.1:4222). */
  readonly servers: string[];
  /** How long an un-acked, un-touched event stays with one consumer before JetStream hands it on. */
  readonly ackWaitMs: number;
  /** Upper bound on publish() (engine ack included) before it rejects as unavailable. */
  readonly publishTimeoutMs: number;
  /** Upper bound on subscribe() creating its stream and consumer. */
  readonly subscribeTimeoutMs: number;
  /** First redelivery delay after a handler rejects; doubles per delivery up to 30 s. */
  readonly redeliveryDelayMs: number;
  /**
   * Events nobody acknowledged are dropped after this long (stream max_age), and a consumer no
   * process pulls from is removed after it (inactive_threshold).
   */
  readonly maxAgeMs: number;
  /** JetStream replicas of each stream (1 for a single server, 3 for a cluster). */
  readonly replicas: number;
}

const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

const DEFAULTS = {
  ackWaitMs: 30_000,
  publishTimeoutMs: 4_000,
  subscribeTimeoutMs: 10_000,
  redeliveryDelayMs: 500,
  maxAgeMs: 7 * 24 * 3600 * 1000,
  replicas: 1,
} as const;

export function parseNatsSettings(
  config: BackingConfig,
  env: NodeJS.ProcessEnv = process.env,
): NatsSettings {
  const settings = config.settings;
  const url = settings["url"] || env["NATS_URL"] || DEFAULT_NATS_URL;
  const servers = url
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (servers.length === 0) throw new Error("settings.url must name at least one NATS server");
  return {
    servers,
    ackWaitMs: positiveInteger(settings, "ackWaitMs", DEFAULTS.ackWaitMs, 1_000),
    publishTimeoutMs: positiveInteger(settings, "publishTimeoutMs", DEFAULTS.publishTimeoutMs),
    subscribeTimeoutMs: positiveInteger(
      settings,
      "subscribeTimeoutMs",
      DEFAULTS.subscribeTimeoutMs,
    ),
    redeliveryDelayMs: positiveInteger(settings, "redeliveryDelayMs", DEFAULTS.redeliveryDelayMs),
    maxAgeMs: positiveInteger(settings, "maxAgeMs", DEFAULTS.maxAgeMs),
    replicas: positiveInteger(settings, "replicas", DEFAULTS.replicas),
  };
}

function positiveInteger(
  settings: Readonly<Record<string, string>>,
  key: string,
  fallback: number,
  minimum = 1,
): number {
  const raw = settings[key];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < minimum) {
    throw new Error(`settings.${key} must be an integer >= ${minimum}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Exponential backoff for redelivery after a handler rejected (deliveryCount starts at 1). */
export function redeliveryDelay(settings: NatsSettings, deliveryCount: number): number {
  const exponent = Math.min(Math.max(deliveryCount - 1, 0), 16);
  return Math.min(settings.redeliveryDelayMs * 2 ** exponent, 30_000);
}
