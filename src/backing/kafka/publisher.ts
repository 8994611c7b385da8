import type { Kafka, Message, Producer, TopicMessages } from "kafkajs";
import type { CloudEvent } from "../../events/event.js";
import { BackingUnavailableError } from "../backing.js";
import type { KafkaAdmin } from "./admin.js";
import { withDeadline } from "./deadline.js";
import { EventPartitioner } from "./partitioner.js";
import { toRecord } from "./record.js";
import type { KafkaSettings } from "./settings.js";

interface PendingPublish {
  readonly topic: string;
  readonly messages: Message[];
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * Writes events with acks from every in-sync replica. Publishes issued in the same turn of the
 * event loop leave as one ProduceRequest per broker, so many concurrent ingress requests cost one
 * round trip instead of one each.
 */
export class KafkaPublisher {
  private readonly producer: Producer;
  private readonly partitioner = new EventPartitioner();
  private connecting: Promise<void> | undefined;
  private pending: PendingPublish[] = [];
  private flushScheduled = false;

  constructor(
    kafka: Kafka,
    private readonly admin: KafkaAdmin,
    private readonly settings: KafkaSettings,
  ) {
    this.producer = kafka.producer({
      allowAutoTopicCreation: true,
      // The mock cluster has no transactions, and idempotence would retry without bound.
      idempotent: false,
      createPartitioner: this.partitioner.create,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    this.producer.on(this.producer.events.DISCONNECT, () => {
      this.connecting = undefined;
    });
  }

  publish(topic: string, events: readonly CloudEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const messages = events.map(toRecord);
    const stored = new Promise<void>((resolve, reject) => {
      this.pending.push({ topic, messages, resolve, reject });
    });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    const ms = this.settings.publishTimeoutMs;
    return withDeadline(
      stored,
      ms,
      () =>
        new BackingUnavailableError(`Kafka did not acknowledge ${topic} within ${ms} ms`, "kafka"),
    );
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    const byTopic = new Map<string, Message[]>();
    for (const entry of batch) {
      const messages = byTopic.get(entry.topic);
      if (messages === undefined) byTopic.set(entry.topic, [...entry.messages]);
      else messages.push(...entry.messages);
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => {
      this.partitioner.group(messages);
      return { topic, messages };
    });
    this.send(topicMessages).then(
      () => {
        for (const entry of batch) entry.resolve();
      },
      (error: unknown) => {
        const failure = asPublishError(error);
        for (const entry of batch) entry.reject(failure);
      },
    );
  }

  private async send(topicMessages: TopicMessages[]): Promise<void> {
    await Promise.all(topicMessages.map(({ topic }) => this.admin.ensureTopic(topic)));
    this.connecting ??= this.producer.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    await this.connecting;
    await this.producer.sendBatch({
      topicMessages,
      acks: -1,
      timeout: this.settings.requestTimeoutMs,
    });
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
  }
}

const REFUSALS = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_TOPIC_EXCEPTION",
  "TOPIC_AUTHORIZATION_FAILED",
]);

/**
 * A cluster that cannot be reached or does not answer in time is unavailable (503, try again
 * later); a cluster that answered "no" to these records is a plain error.
 */
function asPublishError(error: unknown): Error {
  let cause = error as { cause?: unknown; type?: string } | undefined;
  while (cause?.cause !== undefined && cause.cause !== null) {
    cause = cause.cause as typeof cause;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (REFUSALS.has(cause?.type ?? "")) {
    return new Error(`Kafka refused the events: ${message}`, { cause: error });
  }
  return new BackingUnavailableError(`Kafka did not store the events: ${message}`, "kafka", {
    cause: error,
  });
}
