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
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Consumer, EachBatchPayload, Kafka, Message, Producer } from "kafkajs";
import type { Logger } from "../../observability/logger.js";
import type { AcceptedRecord, JourneyStore, RouteRecord, StoredJourney } from "../journey.js";
import { JourneyIndex, type JourneyReport } from "../journey-index.js";
import type { KafkaAdmin } from "./admin.js";
import { topicName } from "./naming.js";
import type { KafkaSettings } from "./settings.js";

const TOPIC_RETENTION_MS = 7 * 24 * 3600 * 1000;
const READ_WAIT_MS = 10_000;
const MAX_PENDING = 10_000;
const SWEEP_MS = 60_000;
const RESTART_MS = 1_000;

export function journeyTopic(prefix: string): string {
  return topicName(prefix, "journeys");
}

export class KafkaJourneyStore implements JourneyStore {
  readonly topic: string;
  private readonly index = new JourneyIndex();
  /** Per partition, the offset after the last record indexed. */
  private readonly positions = new Map<number, number>();
  private readonly groupId: string;
  private readonly producer: Producer;
  private producing: Promise<void> | undefined;
  private pending: Message[] = [];
  private sending = 0;
  private flushScheduled = false;
  private consumer: Consumer | undefined;
  private starting: Promise<void> | undefined;
  private topicMade: Promise<void> | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private warned = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: KafkaAdmin,
    private readonly settings: KafkaSettings,
    private readonly logger: Logger,
  ) {
    this.topic = journeyTopic(settings.namePrefix);
    this.groupId = `${this.topic}/reader-${randomUUID()}`;
    this.producer = kafka.producer({
      allowAutoTopicCreation: true,
      idempotent: false,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    this.producer.on(this.producer.events.DISCONNECT, () => {
      this.producing = undefined;
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
    await this.caughtUp(READ_WAIT_MS);
    return this.index.read(namespace, id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    clearTimeout(this.restartTimer);
    // Reports written just before close still reach Kafka (a restart reads them back).
    this.flush();
    const deadline = Date.now() + this.settings.requestTimeoutMs;
    while (this.sending > 0 && Date.now() < deadline) await sleep(10);
    const consumer = this.consumer;
    this.consumer = undefined;
    await Promise.all([
      consumer?.disconnect().catch(() => undefined),
      this.producer.disconnect().catch(() => undefined),
    ]);
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

  private async send(messages: Message[]): Promise<void> {
    await this.makeTopic();
    this.producing ??= this.producer.connect().catch((error: unknown) => {
      this.producing = undefined;
      throw error;
    });
    await this.producing;
    await this.producer.send({
      topic: this.topic,
      messages,
      acks: 1,
      timeout: this.settings.requestTimeoutMs,
    });
  }

  /** Asks for a compacted, time-limited topic once; a refusal leaves it to auto-creation. */
  private makeTopic(): Promise<void> {
    this.topicMade ??= this.admin
      .use((admin) =>
        admin.createTopics({
          topics: [
            {
              topic: this.topic,
              numPartitions: this.settings.numPartitions,
              replicationFactor: this.settings.replicationFactor,
              configEntries: [
                { name: "cleanup.policy", value: "compact,delete" },
                { name: "retention.ms", value: String(TOPIC_RETENTION_MS) },
              ],
            },
          ],
          waitForLeaders: true,
          timeout: this.settings.requestTimeoutMs,
        }),
      )
      .then(
        () => undefined,
        (error: unknown) => {
          this.logger.debug(
            { topic: this.topic, err: error },
            "Kafka refused CreateTopics for journeys; relying on topic auto-creation",
          );
        },
      );
    return this.topicMade;
  }

  /** Starts reading the topic into the index, once (and again after a failed start). */
  private start(): void {
    if (this.closed || this.starting !== undefined) return;
    this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
    this.starting = this.launch().catch((error: unknown) => {
      this.logger.debug({ err: error, topic: this.topic }, "Kafka journey reader did not start");
      this.restartLater();
    });
  }

  private restartLater(): void {
    if (this.closed) return;
    const consumer = this.consumer;
    this.consumer = undefined;
    void consumer?.disconnect().catch(() => undefined);
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.starting = undefined;
      this.start();
    }, RESTART_MS);
    this.restartTimer.unref();
  }

  private async launch(): Promise<void> {
    await this.makeTopic();
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: this.settings.sessionTimeoutMs,
      rebalanceTimeout: this.settings.rebalanceTimeoutMs,
      heartbeatInterval: this.settings.heartbeatIntervalMs,
      maxWaitTimeInMs: this.settings.fetchMaxWaitMs,
      allowAutoTopicCreation: true,
      retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 3_000 },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.closed) return;
      this.logger.warn({ err: payload.error }, "Kafka journey reader stopped; restarting");
      this.restartLater();
    });
    await consumer.connect();
    // The group is this process's alone and never commits: every start reads from the beginning.
    await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch: (payload) => this.take(payload) });
    if (this.closed) await consumer.disconnect().catch(() => undefined);
  }

  private async take({ batch }: EachBatchPayload): Promise<void> {
    for (const message of batch.messages) {
      if (message.value === null) continue;
      try {
        const value = JSON.parse(message.value.toString()) as JourneyReport;
        this.index.add(value, message.key?.toString() ?? "");
      } catch {
        // A record that is not a report of ours is skipped.
      }
    }
    if (batch.messages.length > 0) {
      this.positions.set(batch.partition, Number(batch.lastOffset()) + 1);
    }
  }

  /** Waits until every partition is indexed up to its end as it is now, for at most `ms`. */
  private async caughtUp(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    let ends: Array<{ partition: number; high: string; low: string }>;
    try {
      ends = await this.admin.use((admin) => admin.fetchTopicOffsets(this.topic), ms);
    } catch {
      // The topic is missing or Kafka is away: answer from what is indexed.
      return;
    }
    const behind = () =>
      ends.some(
        ({ partition, high, low }) =>
          Number(high) > Number(low) && (this.positions.get(partition) ?? 0) < Number(high),
      );
    while (behind() && Date.now() < deadline && !this.closed) await sleep(20);
  }

  private sweep(): void {
    this.index.sweep();
  }
}
