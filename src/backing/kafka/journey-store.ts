/**
 * Journeys on Kafka (CONTRACT §11): one topic, `<prefix>.journeys`, one record per report, keyed
 * by (namespace, id, source, acceptance | route kind and name). A key per report rather than per
 * event: on a compacted topic a key per event would keep only its last report. On a real cluster
 * the topic is created compacted with a time limit (`cleanup.policy=compact,delete`, retention.ms
 * of TOPIC_RETENTION_MS), so a route's later outcome replaces its earlier one and old journeys go;
 * a cluster that refuses CreateTopics (librdkafka's mock, or a locked-down one) auto-creates it
 * with its defaults instead. Kafka has no per-record TTL, so each value carries its expiry (the
 * Broker's retention from the report's time) and readers skip what has expired: a retention longer
 * than the topic's is capped by it.
 *
 * Every process reads the whole topic into an in-memory index (its own consumer group, never
 * committed, from the earliest offset), so any process of a scale-out answers and a restarted one
 * reads it all again. A lookup first waits, for at most READ_WAIT_MS (a fresh process joins its group first), until the index has reached
 * the topic's end as it stood when the lookup began, so a report another process wrote moments
 * ago is found. The index drops expired reports and holds at most MAX_INDEXED_EVENTS events.
 *
 * Writes are batched per turn of the event loop and sent without waiting; a failed or dropped
 * write loses a report, never an event.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Batch, Kafka, Message } from "kafkajs";
import type { Logger } from "../../observability/logger.js";
import type { AcceptedRecord, JourneyStore, RouteRecord, StoredJourney } from "../journey.js";
import { JourneyIndex, type JourneyReport } from "../journey-index.js";
import type { KafkaAdmin } from "./admin.js";
import { topicName } from "./naming.js";
import type { KafkaSettings } from "./settings.js";
import { TopicFollower } from "./topic-follower.js";

const TOPIC_RETENTION_MS = 7 * 24 * 3600 * 1000;
const READ_WAIT_MS = 10_000;
const MAX_PENDING = 10_000;
const SWEEP_MS = 60_000;

export function journeyTopic(prefix: string): string {
  return topicName(prefix, "journeys");
}

export class KafkaJourneyStore implements JourneyStore {
  readonly topic: string;
  private readonly index = new JourneyIndex();
  private readonly follower: TopicFollower;
  private pending: Message[] = [];
  private sending = 0;
  private flushScheduled = false;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  private warned = false;

  constructor(
    kafka: Kafka,
    admin: KafkaAdmin,
    private readonly settings: KafkaSettings,
    private readonly logger: Logger,
  ) {
    this.topic = journeyTopic(settings.namePrefix);
    this.follower = new TopicFollower(kafka, admin, settings, logger, {
      topic: this.topic,
      what: "journeys",
      numPartitions: settings.numPartitions,
      configEntries: [
        { name: "cleanup.policy", value: "compact,delete" },
        { name: "retention.ms", value: String(TOPIC_RETENTION_MS) },
      ],
      producer: {
        idempotent: false,
        retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
      },
      take: (batch) => this.take(batch),
    });
  }

  writeAccepted(
    namespace: string,
    id: string,
    source: string,
    record: AcceptedRecord,
    retentionMs: number,
  ): void {
    this.write(JSON.stringify([namespace, id, source, "a"]), {
      namespace,
      id,
      source,
      expiresAt: Date.now() + retentionMs,
      accepted: record,
    });
  }

  writeRoute(
    namespace: string,
    id: string,
    source: string,
    route: RouteRecord,
    retentionMs: number,
  ): void {
    this.write(JSON.stringify([namespace, id, source, "r", route.kind, route.name]), {
      namespace,
      id,
      source,
      expiresAt: Date.now() + retentionMs,
      route,
    });
  }

  async read(namespace: string, id: string): Promise<StoredJourney[]> {
    if (this.closed) return [];
    this.start();
    // The topic missing, Kafka away or the reader slow: answer from what is indexed.
    await this.follower.catchUp(READ_WAIT_MS).catch(() => undefined);
    return this.index.read(namespace, id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    // Reports written just before close still reach Kafka (a restart reads them back).
    this.flush();
    const deadline = Date.now() + this.settings.requestTimeoutMs;
    while (this.sending > 0 && Date.now() < deadline) await sleep(10);
    await this.follower.close();
  }

  private write(key: string, value: JourneyReport): void {
    if (this.closed || this.pending.length + this.sending >= MAX_PENDING) return;
    this.start();
    this.pending.push({ key, value: JSON.stringify(value) });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const messages = this.pending;
    if (messages.length === 0) return;
    this.pending = [];
    this.sending += messages.length;
    this.send(messages)
      .catch((error: unknown) => {
        if (this.warned) return;
        this.warned = true;
        this.logger.warn({ err: error }, "kafka backing: journey reports were not stored");
      })
      .finally(() => {
        this.sending -= messages.length;
      });
  }

  private send(messages: Message[]): Promise<void> {
    return this.follower.send(messages, 1);
  }

  /** Starts reading the topic into the index, once (and again after a failed start). */
  private start(): void {
    if (this.closed) return;
    this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
    this.follower.start();
  }

  private take(batch: Batch): void {
    for (const message of batch.messages) {
      if (message.value === null) continue;
      try {
        const value = JSON.parse(message.value.toString()) as JourneyReport;
        this.index.add(value, message.key?.toString() ?? "");
      } catch {
        // A record that is not a report of ours is skipped.
      }
    }
  }

  private sweep(): void {
    this.index.sweep();
  }
}
