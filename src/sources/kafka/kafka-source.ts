import type { CloudEvent } from "../../events/event.js";
import { decodeKafkaRecord, recordHeaders } from "../../events/kafka-binding.js";
import type { Logger } from "../../observability/logger.js";
import type { RunnableSource } from "../registry.js";
import type { EventSink } from "../source.js";
import type { KafkaSecurity } from "./kafka-auth.js";
import type { KafkaNetSpec } from "./net.js";
import {
  type ConsumedRecord,
  type ConsumerTuning,
  KafkaRecordConsumer,
} from "./record-consumer.js";
import { type KeyType, withOverrides, wrapRecord } from "./record-event.js";
import { brokerList } from "./settings.js";

export interface KafkaSourceSpec {
  readonly bootstrapServers: readonly string[];
  readonly topics: readonly string[];
  readonly consumerGroup?: string;
  /** Where a new consumer group starts; default latest, as Knative's. */
  readonly initialOffset?: "earliest" | "latest";
  /** Default ordered, as Knative's: one record at a time per partition. */
  readonly ordering?: "ordered" | "unordered";
  readonly ceOverrides?: { readonly extensions?: Readonly<Record<string, string>> };
  /** SASL and TLS (net.ts). */
  readonly net?: KafkaNetSpec;
}

export { KEY_TYPE_ANNOTATION } from "./settings.js";

/** The group a KafkaSource joins when it names none: stable, so restarts resume. */
export function defaultConsumerGroup(namespace: string, name: string): string {
  return `eventail-kafkasource-${namespace}-${name}`;
}

/**
 * KafkaSource: reads its topics as one consumer-group member and hands every record to the sink
 * (through the Dispatcher, so `spec.delivery` applies), committing a record's offset only once it
 * and every record before it in its partition are delivered, dead-lettered or given up on.
 */
export class KafkaSource implements RunnableSource {
  private consumer: KafkaRecordConsumer | undefined;
  private readonly source: string;

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly spec: KafkaSourceSpec,
    private readonly keyType: KeyType,
    private readonly logger: Logger,
    private readonly tuning: ConsumerTuning = {},
    /** What `spec.net` makes of the connection (net.ts): TLS, SASL. */
    private readonly security: KafkaSecurity = {},
  ) {
    this.source = `/apis/v1/namespaces/${namespace}/kafkasources/${name}`;
  }

  async start(sink: EventSink): Promise<void> {
    this.consumer = new KafkaRecordConsumer(
      {
        clientId: `eventail-kafkasource-${this.namespace}-${this.name}`,
        brokers: brokerList(this.spec.bootstrapServers),
        groupId: this.spec.consumerGroup ?? defaultConsumerGroup(this.namespace, this.name),
        topics: this.spec.topics,
        fromBeginning: this.spec.initialOffset === "earliest",
        ordered: (this.spec.ordering ?? "ordered") === "ordered",
        security: this.security,
        ...this.tuning,
      },
      (record) => this.deliver(sink, record),
      this.logger,
    );
    this.consumer.start();
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    this.consumer = undefined;
  }

  private async deliver(sink: EventSink, record: ConsumedRecord): Promise<boolean> {
    const headers = recordHeaders(record.message.headers);
    const origin = {
      source: this.source,
      topic: record.topic,
      partition: record.partition,
      keyType: this.keyType,
    };
    let event: CloudEvent | undefined;
    try {
      event = decodeKafkaRecord(headers, record.message.value);
    } catch (error) {
      this.logger.warn(
        {
          err: error,
          topic: record.topic,
          partition: record.partition,
          offset: record.message.offset,
        },
        "record looks like a CloudEvent but is not a valid one: wrapped as a plain record",
      );
    }
    event ??= wrapRecord(record.message, headers, origin);
    const outcome = await sink(withOverrides(event, this.spec.ceOverrides?.extensions));
    return outcome.kind !== "dropped" || outcome.reason !== "shutdown";
  }
}
