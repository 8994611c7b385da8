import { brokerList } from "../kafka/settings.js";

export type MessageQueueType = "kafka" | "nats" | "redis" | "rabbitmq" | "mqtt";
export const MESSAGE_QUEUE_TYPES: readonly MessageQueueType[] = [
  "kafka",
  "nats",
  "redis",
  "rabbitmq",
  "mqtt",
];

/**
 * The `spec.metadata` keys each queue type reads (KEDA's names, as Fission takes them), and the
 * environment variable that stands in for the connection when the manifest names none.
 */
export const METADATA_KEYS: Readonly<Record<MessageQueueType, readonly string[]>> = {
  kafka: ["bootstrapServers", "consumerGroup"],
  nats: ["natsServer", "stream", "consumer"],
  redis: ["address", "consumerGroup"],
  rabbitmq: ["host"],
  mqtt: ["brokerUrl", "clientId"],
};

const CONNECTION_ENV: Readonly<Record<MessageQueueType, string>> = {
  kafka: "KAFKA_BROKERS",
  nats: "NATS_URL",
  redis: "REDIS_URL",
  rabbitmq: "RABBITMQ_URL",
  mqtt: "MQTT_URL",
};

const CONNECTION_KEY: Readonly<Record<MessageQueueType, string>> = {
  kafka: "bootstrapServers",
  nats: "natsServer",
  redis: "address",
  // KEDA's rabbitmq scaler names its AMQP URL `host`.
  rabbitmq: "host",
  mqtt: "brokerUrl",
};

/** What a trigger's consumer group, durable consumer or Redis consumer is called by default. */
export function defaultConsumerName(namespace: string, name: string): string {
  return `eventail-mqt-${namespace}-${name}`;
}

/** The connection string: spec.metadata, else the environment; throws naming both when neither. */
export function connectionOf(
  type: MessageQueueType,
  metadata: Readonly<Record<string, string>>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const key = CONNECTION_KEY[type];
  const value = metadata[key] ?? env[CONNECTION_ENV[type]];
  if (!value) {
    throw new Error(`spec.metadata.${key}: required when ${CONNECTION_ENV[type]} is not set`);
  }
  return type === "redis" && !value.includes("://") ? `redis://${value}` : value;
}

export function kafkaBrokers(connection: string): string[] {
  return brokerList(connection);
}
