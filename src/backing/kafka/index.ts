import type { Kafka } from "kafkajs";
import type { CloudEvent } from "../../events/event.js";
import type { Logger } from "../../observability/logger.js";
import {
  type Archive,
  type Backing,
  type BackingConfig,
  BackingUnavailableError,
  type ConsumeHandler,
  type SubscribeOptions,
  type Subscription,
} from "../backing.js";
import { KafkaAdmin } from "./admin.js";
import { readKafkaArchive } from "./archive.js";
import { createKafkaClient } from "./client.js";
import { KafkaDeadLetterStore } from "./dead-letter-store.js";
import { KafkaEventTypeStore } from "./event-type-store.js";
import { KafkaJourneyStore } from "./journey-store.js";
import { groupId, topicName } from "./naming.js";
import { KafkaPublisher } from "./publisher.js";
import { type KafkaSettings, readKafkaSettings } from "./settings.js";
import { KafkaSubscription } from "./subscription.js";

export { type KafkaSettings, KafkaSettingsError, readKafkaSettings } from "./settings.js";

/**
 * Kafka as a backing: one topic per broker or channel, one consumer group per trigger or
 * subscription. Connects lazily, so a cluster that is down at start-up only makes publish() and
 * ready() fail until it answers.
 */
export async function createBacking(
  config: BackingConfig,
  deps: { logger: Logger },
): Promise<Backing> {
  return new KafkaBacking(readKafkaSettings(config), deps.logger.child({ backing: "kafka" }));
}

export class KafkaBacking implements Backing {
  readonly kind = "kafka";
  private readonly kafka: Kafka;
  private readonly admin: KafkaAdmin;
  private readonly publisher: KafkaPublisher;
  private readonly subscriptions = new Set<KafkaSubscription>();
  private closed = false;
  /** Journeys live on a topic of the same cluster (journey-store.ts says how). */
  readonly journeys: KafkaJourneyStore;
  /** Dead letters live on a topic of entries and tombstones (dead-letter-store.ts says how). */
  readonly deadLetters: KafkaDeadLetterStore;
  /** Auto-created EventTypes live on a compacted topic (event-type-store.ts says how). */
  readonly eventTypes: KafkaEventTypeStore;

  constructor(
    private readonly settings: KafkaSettings,
    private readonly logger: Logger,
  ) {
    this.kafka = createKafkaClient(settings, logger);
    this.admin = new KafkaAdmin(this.kafka, settings, logger);
    this.publisher = new KafkaPublisher(this.kafka, this.admin, settings);
    this.journeys = new KafkaJourneyStore(this.kafka, this.admin, settings, logger);
    this.deadLetters = new KafkaDeadLetterStore(this.kafka, this.admin, settings, logger);
    this.eventTypes = new KafkaEventTypeStore(this.kafka, this.admin, settings, logger);
  }

  publish(stream: string, events: readonly CloudEvent[]): Promise<void> {
    if (this.closed) {
      return Promise.reject(new BackingUnavailableError("the Kafka backing is closed", "kafka"));
    }
    return this.publisher.publish(topicName(this.settings.namePrefix, stream), events);
  }

  async subscribe(
    stream: string,
    name: string,
    handler: ConsumeHandler,
    options: SubscribeOptions,
  ): Promise<Subscription> {
    if (this.closed) throw new BackingUnavailableError("the Kafka backing is closed", "kafka");
    const prefix = this.settings.namePrefix;
    const subscription = new KafkaSubscription(
      this.kafka,
      this.admin,
      this.settings,
      this.logger.child({ stream, consumer: name }),
      topicName(prefix, stream),
      groupId(prefix, stream, name),
      handler,
      options,
    );
    this.subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      this.subscriptions.delete(subscription);
      throw error;
    }
    return {
      close: async (graceMs?: number) => {
        await subscription.close(graceMs);
        this.subscriptions.delete(subscription);
      },
    };
  }

  async removeConsumer(stream: string, name: string): Promise<void> {
    await this.admin
      .deleteGroup(groupId(this.settings.namePrefix, stream, name))
      .catch(unreachable(`deleting the consumer group of ${name}`));
  }

  async retainStream(stream: string, retentionMs: number | undefined): Promise<void> {
    await this.admin
      .retain(topicName(this.settings.namePrefix, stream), retentionMs)
      .catch(unreachable(`setting the retention of ${stream}`));
  }

  /** Reads what retention kept, by record timestamp (archive.ts says how). */
  readonly archive: Archive = {
    read: (stream, fromMs, toMs) =>
      readKafkaArchive(
        this.kafka,
        this.admin,
        this.settings,
        this.logger,
        topicName(this.settings.namePrefix, stream),
        fromMs,
        toMs,
      ),
  };

  async removeStream(stream: string): Promise<void> {
    await this.admin
      .deleteCreatedTopic(topicName(this.settings.namePrefix, stream))
      .catch(unreachable(`deleting the topic of ${stream}`));
  }

  async ready(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.admin.use((admin) => admin.describeCluster(), this.settings.readyTimeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    this.subscriptions.clear();
    await Promise.all([this.journeys.close(), this.deadLetters.close(), this.eventTypes.close()]);
    await Promise.all([this.publisher.disconnect(), this.admin.disconnect()]);
  }
}

function unreachable(what: string): (error: unknown) => never {
  return (error) => {
    throw new BackingUnavailableError(`${what}: ${(error as Error).message}`, "kafka", {
      cause: error,
    });
  };
}
