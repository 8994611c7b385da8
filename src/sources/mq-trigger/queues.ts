import type { Logger } from "../../observability/logger.js";
import type { ConsumerTuning } from "../kafka/record-consumer.js";
import { KafkaQueue } from "./kafka-queue.js";
import { MqttQueue } from "./mqtt-queue.js";
import { NatsQueue } from "./nats-queue.js";
import type { MessageQueue } from "./queue.js";
import { RabbitQueue } from "./rabbitmq-queue.js";
import { RedisQueue } from "./redis-queue.js";
import {
  connectionOf,
  defaultConsumerName,
  kafkaBrokers,
  type MessageQueueType,
} from "./settings.js";

export interface QueueTarget {
  readonly namespace: string;
  readonly name: string;
  readonly type: MessageQueueType;
  readonly topic: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The queue a MessageQueueTrigger consumes, from its type, topic and spec.metadata. */
export function createMessageQueue(
  target: QueueTarget,
  logger: Logger,
  env: Readonly<Record<string, string | undefined>> = process.env,
  kafkaTuning: ConsumerTuning = {},
): MessageQueue {
  const metadata = target.metadata ?? {};
  const connection = connectionOf(target.type, metadata, env);
  const own = defaultConsumerName(target.namespace, target.name);
  switch (target.type) {
    case "kafka":
      return new KafkaQueue(
        {
          brokers: kafkaBrokers(connection),
          consumerGroup: metadata["consumerGroup"] ?? own,
          topic: target.topic,
          clientId: own,
          ...kafkaTuning,
        },
        logger,
      );
    case "nats":
      return new NatsQueue(
        {
          servers: connection,
          topic: target.topic,
          ...(metadata["stream"] ? { stream: metadata["stream"] } : {}),
          // Durable names may not hold dots.
          consumer: (metadata["consumer"] ?? own).replace(/[^A-Za-z0-9_-]/g, "_"),
        },
        logger,
      );
    case "redis":
      return new RedisQueue(
        {
          url: connection,
          topic: target.topic,
          consumerGroup: metadata["consumerGroup"] ?? own,
          consumer: own,
        },
        logger,
      );
    case "rabbitmq":
      return new RabbitQueue({ url: connection, topic: target.topic }, logger);
    case "mqtt":
      return new MqttQueue(
        { url: connection, topic: target.topic, clientId: metadata["clientId"] ?? own },
        logger,
      );
  }
}
