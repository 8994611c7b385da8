import { type Kafka, Partitioners, type Producer } from "kafkajs";
import { BackingUnavailableError } from "../../backing/backing.js";
import type { CloudEvent } from "../../events/event.js";
import type { SinkReceipt } from "../../events/ingress-target.js";
import { encodeKafkaRecord, type KafkaMode } from "../../events/kafka-binding.js";
import type { Logger } from "../../observability/logger.js";
import { MissingReferenceError } from "../../resources/missing-reference.js";
import { brokerList, kafkaClient } from "../../sources/kafka/client.js";
import { type KafkaSecurity, kafkaSecurity } from "../../sources/kafka/kafka-auth.js";
import type { RunnableSink, SinkContext } from "../registry.js";

/** eventing-kafka-broker's KafkaSink (eventing.knative.dev/v1alpha1). */
export interface KafkaSinkSpec {
  readonly topic: string;
  readonly bootstrapServers: readonly string[];
  /** Default binary, as in current Knative. */
  readonly contentMode?: KafkaMode;
  readonly numPartitions?: number;
  readonly replicationFactor?: number;
  readonly auth?: { readonly secret?: { readonly ref?: { readonly name: string } } };
}

/** Bounds one produce, connecting included: past it the sender gets 503 and retries. */
const PRODUCE_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 5_000;

/**
 * KafkaSink: each event is produced to `spec.topic` with the CloudEvents Kafka binding
 * (src/events/kafka-binding.ts) in `spec.contentMode`, its `partitionkey` as the record key, and
 * acks from every in-sync replica; the sink answers 202 only after that acknowledgement. The
 * topic is created with `numPartitions`/`replicationFactor` when the cluster allows CreateTopics
 * (once, on first use), else left to auto-creation.
 */
export class KafkaSink implements RunnableSink {
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly mode: KafkaMode;
  private readonly logger: Logger;
  private connecting: Promise<void> | undefined;
  private topicChecked = false;
  private closed = false;

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly spec: KafkaSinkSpec,
    context: SinkContext,
  ) {
    this.logger = context.logger;
    this.mode = spec.contentMode ?? "binary";
    this.kafka = kafkaClient(brokerList(spec.bootstrapServers), context.logger, "eventail", {
      ...security(spec, context),
      connectionTimeout: 3_000,
      requestTimeout: REQUEST_TIMEOUT_MS,
      retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 2 },
    });
    this.producer = this.kafka.producer({
      allowAutoTopicCreation: true,
      // Murmur2 of the key, as Knative's Java producer picks partitions.
      createPartitioner: Partitioners.DefaultPartitioner,
      // Idempotence would retry without bound; the sender retries instead (503).
      idempotent: false,
    });
    this.producer.on(this.producer.events.DISCONNECT, () => {
      this.connecting = undefined;
    });
  }

  async receive(event: CloudEvent): Promise<SinkReceipt | undefined> {
    if (this.closed) {
      throw new BackingUnavailableError(`KafkaSink ${this.id()} is shutting down`, "kafka");
    }
    const record = encodeKafkaRecord(event, this.mode);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new BackingUnavailableError(
              `Kafka did not acknowledge ${this.spec.topic} within ${PRODUCE_TIMEOUT_MS} ms`,
              "kafka",
            ),
          ),
        PRODUCE_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([this.produce(record), deadline]);
    } catch (error) {
      if (error instanceof BackingUnavailableError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new BackingUnavailableError(`Kafka did not store the event: ${reason}`, "kafka", {
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.producer.disconnect().catch(() => undefined);
  }

  private async produce(record: ReturnType<typeof encodeKafkaRecord>): Promise<void> {
    this.connecting ??= this.producer.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    await this.connecting;
    if (!this.topicChecked) {
      this.topicChecked = true;
      await this.createTopic();
    }
    await this.producer.send({
      topic: this.spec.topic,
      messages: [{ key: record.key, value: record.value, headers: record.headers }],
      acks: -1,
      timeout: REQUEST_TIMEOUT_MS,
    });
  }

  /** As Knative's controller does; a cluster that refuses (librdkafka's mock) auto-creates. */
  private async createTopic(): Promise<void> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      await admin.createTopics({
        topics: [
          {
            topic: this.spec.topic,
            numPartitions: this.spec.numPartitions ?? -1,
            replicationFactor: this.spec.replicationFactor ?? -1,
          },
        ],
        timeout: REQUEST_TIMEOUT_MS,
      });
    } catch (error) {
      this.logger.debug(
        { topic: this.spec.topic, err: error },
        "Kafka refused CreateTopics; relying on topic auto-creation",
      );
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  private id(): string {
    return `${this.namespace}/${this.name}`;
  }
}

/** TLS and SASL from `spec.auth.secret.ref` (a Secret of the sink's namespace). */
function security(spec: KafkaSinkSpec, context: SinkContext): KafkaSecurity {
  const name = spec.auth?.secret?.ref?.name;
  if (!name) return {};
  const secret = context.secret(context.namespace, name);
  if (!secret) {
    throw new MissingReferenceError("Secret", context.namespace, name, "spec.auth.secret.ref.name");
  }
  try {
    return kafkaSecurity(secret);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`spec.auth.secret.ref.name: Secret ${name}: ${reason}`);
  }
}
