import { Partitioners, type Producer } from "kafkajs";
import { recordHeaders } from "../../events/kafka-binding.js";
import type { Logger } from "../../observability/logger.js";
import { kafkaClient } from "../kafka/client.js";
import { type ConsumerTuning, KafkaRecordConsumer } from "../kafka/record-consumer.js";
import type { MessageHandler, MessageQueue, OutgoingMessage } from "./queue.js";

export interface KafkaQueueSettings extends ConsumerTuning {
  readonly brokers: readonly string[];
  readonly consumerGroup: string;
  readonly topic: string;
  readonly clientId: string;
}

/** A Kafka topic as a MessageQueue: one record at a time per partition, offsets after handling. */
export class KafkaQueue implements MessageQueue {
  private consumer: KafkaRecordConsumer | undefined;
  private readonly producer: Producer;
  private producerReady: Promise<void> | undefined;

  constructor(
    private readonly settings: KafkaQueueSettings,
    private readonly logger: Logger,
  ) {
    this.producer = kafkaClient(settings.brokers, logger, settings.clientId).producer({
      allowAutoTopicCreation: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  start(handler: MessageHandler): void {
    const { settings } = this;
    this.consumer = new KafkaRecordConsumer(
      {
        clientId: settings.clientId,
        brokers: settings.brokers,
        groupId: settings.consumerGroup,
        topics: [settings.topic],
        fromBeginning: true,
        ordered: true,
        sessionTimeoutMs: settings.sessionTimeoutMs,
        rebalanceTimeoutMs: settings.rebalanceTimeoutMs,
        heartbeatIntervalMs: settings.heartbeatIntervalMs,
      },
      ({ topic, partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [name, value] of recordHeaders(message.headers)) {
          headers[name.toLowerCase()] = value.toString("utf8");
        }
        return handler({
          id: `partition:${partition}/offset:${message.offset}`,
          topic,
          body: message.value ?? Buffer.alloc(0),
          headers,
        });
      },
      this.logger,
    );
    this.consumer.start();
  }

  async publish(topic: string, message: OutgoingMessage): Promise<void> {
    this.producerReady ??= this.producer.connect().catch((error: unknown) => {
      this.producerReady = undefined;
      throw error;
    });
    await this.producerReady;
    await this.producer.send({
      topic,
      messages: [{ value: message.body, headers: { ...message.headers } }],
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    if (this.producerReady) await this.producer.disconnect().catch(() => undefined);
  }
}
