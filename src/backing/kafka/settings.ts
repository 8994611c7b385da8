import type { BackingConfig } from "../backing.js";

/**
 * What the Kafka backing reads from a Broker's ConfigMap (or a KafkaChannel template). Keys
 * follow the Kafka client names where one exists, so the same ConfigMap reads naturally to a
 * Kafka user. Every value is a string in the ConfigMap; numbers are checked here, naming the key.
 */
export interface KafkaSettings {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** Prefix of every topic and consumer group, so Eventail's names never collide with others. */
  readonly namePrefix: string;
  /** Partitions of a topic Eventail creates (when the cluster lets it create topics). */
  readonly numPartitions: number;
  readonly replicationFactor: number;
  /** How long a silent member keeps its partitions: a dead process's events move after this. */
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /**
   * Long-poll bound of one fetch; heartbeats wait behind it. librdkafka's mock cluster answers an
   * empty fetch only when this runs out, even if records arrive meanwhile, so it is the latency
   * floor there; real brokers answer as soon as records arrive.
   */
  readonly fetchMaxWaitMs: number;
  readonly requestTimeoutMs: number;
  readonly connectionTimeoutMs: number;
  /** publish() rejects with BackingUnavailableError after this (ingress answers 503). */
  readonly publishTimeoutMs: number;
  /** ready() answers false after this. */
  readonly readyTimeoutMs: number;
  /** subscribe() gives up positioning its consumer after this. */
  readonly subscribeTimeoutMs: number;
  /** First wait before a rejected event is handed to its handler again; doubles, capped. */
  readonly redeliveryDelayMs: number;
  readonly redeliveryMaxDelayMs: number;
}

const DEFAULT_BROKERS = "localhost:9092";

const NUMBER_KEYS = {
  "num.partitions": ["numPartitions", 4],
  "replication.factor": ["replicationFactor", -1],
  "session.timeout.ms": ["sessionTimeoutMs", 15_000],
  "rebalance.timeout.ms": ["rebalanceTimeoutMs", 30_000],
  "heartbeat.interval.ms": ["heartbeatIntervalMs", 0],
  "fetch.max.wait.ms": ["fetchMaxWaitMs", 50],
  "request.timeout.ms": ["requestTimeoutMs", 3_000],
  "connection.timeout.ms": ["connectionTimeoutMs", 1_000],
  "publish.timeout.ms": ["publishTimeoutMs", 4_000],
  "ready.timeout.ms": ["readyTimeoutMs", 1_000],
  "subscribe.timeout.ms": ["subscribeTimeoutMs", 60_000],
  "redelivery.delay.ms": ["redeliveryDelayMs", 1_000],
  "redelivery.max.delay.ms": ["redeliveryMaxDelayMs", 30_000],
} as const satisfies Record<string, readonly [keyof KafkaSettings, number]>;

export class KafkaSettingsError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = "KafkaSettingsError";
  }
}

export function readKafkaSettings(
  config: BackingConfig,
  env: NodeJS.ProcessEnv = process.env,
): KafkaSettings {
  const settings = config.settings;
  const bootstrap = settings["bootstrap.servers"] || env["KAFKA_BROKERS"] || DEFAULT_BROKERS;
  const brokers = bootstrap
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  for (const broker of brokers) {
    if (!/^[^\s:]+:\d+$/.test(broker)) {
      throw new KafkaSettingsError(
        `bootstrap.servers: ${JSON.stringify(broker)} is not host:port`,
        "bootstrap.servers",
      );
    }
  }
  if (brokers.length === 0) {
    throw new KafkaSettingsError("bootstrap.servers: no broker listed", "bootstrap.servers");
  }
  const numbers: Record<string, number> = {};
  for (const [key, [field, fallback]] of Object.entries(NUMBER_KEYS)) {
    const raw = settings[key];
    if (raw === undefined || raw === "") {
      numbers[field] = fallback;
      continue;
    }
    const value = Number(raw);
    if (!Number.isInteger(value) || (value < 0 && key !== "replication.factor")) {
      throw new KafkaSettingsError(`${key}: ${JSON.stringify(raw)} is not a whole number`, key);
    }
    numbers[field] = value;
  }
  const sessionTimeoutMs = numbers["sessionTimeoutMs"]!;
  // Kafka wants several heartbeats per session so one lost request does not evict the member.
  const heartbeatIntervalMs = numbers["heartbeatIntervalMs"] || Math.floor(sessionTimeoutMs / 5);
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new KafkaSettingsError(
      `heartbeat.interval.ms: ${heartbeatIntervalMs} must be below session.timeout.ms (${sessionTimeoutMs})`,
      "heartbeat.interval.ms",
    );
  }
  return {
    ...(numbers as Omit<KafkaSettings, "brokers" | "clientId" | "namePrefix">),
    brokers,
    clientId: settings["client.id"] || "eventail",
    namePrefix: settings["name.prefix"] ?? "eventail",
    heartbeatIntervalMs,
  };
}
