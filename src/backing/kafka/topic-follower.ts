/**
 * Following one whole topic from its start into a process's memory, the way journeys, dead letters
 * and auto-created EventTypes are kept on Kafka: a consumer group of this process alone (random
 * id, never committed), so every start reads the topic again from the earliest offset; restarted
 * after a failed start or a crash; and a check that what was read reached the topic's end as it
 * stood when a caller asked, so an answer includes what another process wrote moments before.
 *
 * The topic is asked for once with its wanted configuration (compacted, for these stores); a
 * cluster that refuses CreateTopics (librdkafka's mock, or a locked-down one) auto-creates it on
 * first use with its defaults instead.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Batch, Consumer, Kafka, Message, Producer, RetryOptions } from "kafkajs";
import type { Logger } from "../../observability/logger.js";
import type { KafkaAdmin } from "./admin.js";
import type { KafkaSettings } from "./settings.js";

const RESTART_MS = 1_000;

export interface TopicFollowerOptions {
  readonly topic: string;
  /** What the topic holds, for log lines ("journeys"). */
  readonly what: string;
  readonly numPartitions: number;
  readonly configEntries: ReadonlyArray<{ name: string; value: string }>;
  readonly producer: { readonly idempotent?: boolean; readonly retry: RetryOptions };
  /** Called with every batch read, in offset order per partition. */
  readonly take: (batch: Batch) => void;
}

/** Where the reader stands against the topic's end as it was when asked. */
export type CatchUp = "caught-up" | "behind" | "no-topic";

export class TopicFollower {
  readonly topic: string;
  /** Per partition, the offset after the last record read. */
  private readonly positions = new Map<number, number>();
  private readonly groupId: string;
  private readonly producer: Producer;
  private producing: Promise<void> | undefined;
  private consumer: Consumer | undefined;
  private starting: Promise<void> | undefined;
  private topicMade: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: KafkaAdmin,
    private readonly settings: KafkaSettings,
    private readonly logger: Logger,
    private readonly options: TopicFollowerOptions,
  ) {
    this.topic = options.topic;
    this.groupId = `${this.topic}/reader-${randomUUID()}`;
    this.producer = kafka.producer({
      allowAutoTopicCreation: true,
      ...(options.producer.idempotent === undefined
        ? {}
        : { idempotent: options.producer.idempotent }),
      retry: options.producer.retry,
    });
    this.producer.on(this.producer.events.DISCONNECT, () => {
      this.producing = undefined;
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends records to the topic (creating it first if it can). */
  async send(messages: Message[], acks: number): Promise<void> {
    if (this.closed) throw new Error("the Kafka backing is closed");
    await this.makeTopic();
    this.producing ??= this.producer.connect().catch((error: unknown) => {
      this.producing = undefined;
      throw error;
    });
    await this.producing;
    await this.producer.send({
      topic: this.topic,
      messages,
      acks,
      timeout: this.settings.requestTimeoutMs,
    });
  }

  /** Asks for the topic with its configuration once; a refusal leaves it to auto-creation. */
  makeTopic(): Promise<void> {
    this.topicMade ??= this.admin
      .use((admin) =>
        admin.createTopics({
          topics: [
            {
              topic: this.topic,
              numPartitions: this.options.numPartitions,
              replicationFactor: this.settings.replicationFactor,
              configEntries: [...this.options.configEntries],
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
            `Kafka refused CreateTopics for ${this.options.what}; relying on topic auto-creation`,
          );
        },
      );
    return this.topicMade;
  }

  /** Starts reading the topic, once (and again after a failed start). */
  start(): void {
    if (this.closed || this.starting !== undefined) return;
    this.starting = this.launch().catch((error: unknown) => {
      this.logger.debug(
        { err: error, topic: this.topic },
        `Kafka ${this.options.what} reader did not start`,
      );
      this.restartLater();
    });
  }

  /**
   * Starts the reader if needed and waits, for at most `ms`, until it has read every partition
   * up to its end as it is now. Rejects when the topic's ends cannot be read (other than the
   * topic not existing yet).
   */
  async catchUp(ms: number): Promise<CatchUp> {
    if (this.closed) return "behind";
    this.start();
    await this.makeTopic();
    let ends: Array<{ partition: number; high: string; low: string }>;
    try {
      ends = await this.admin.use((admin) => admin.fetchTopicOffsets(this.topic), ms);
    } catch (error) {
      if (isUnknownTopic(error)) return "no-topic";
      throw error;
    }
    const deadline = Date.now() + ms;
    const behind = () =>
      ends.some(
        ({ partition, high, low }) =>
          Number(high) > Number(low) && (this.positions.get(partition) ?? 0) < Number(high),
      );
    while (behind()) {
      if (Date.now() >= deadline || this.closed) return "behind";
      await sleep(20);
    }
    return "caught-up";
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.restartTimer);
    const consumer = this.consumer;
    this.consumer = undefined;
    await Promise.all([
      consumer?.disconnect().catch(() => undefined),
      this.producer.disconnect().catch(() => undefined),
    ]);
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
      this.logger.warn(
        { err: payload.error },
        `Kafka ${this.options.what} reader stopped; restarting`,
      );
      this.restartLater();
    });
    await consumer.connect();
    // The group is this process's alone and never commits: every start reads from the beginning.
    await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        this.options.take(batch);
        if (batch.messages.length > 0) {
          this.positions.set(batch.partition, Number(batch.lastOffset()) + 1);
        }
      },
    });
    if (this.closed) await consumer.disconnect().catch(() => undefined);
  }
}

export function isUnknownTopic(error: unknown): boolean {
  const type = (error as { type?: string } | undefined)?.type;
  if (type === "UNKNOWN_TOPIC_OR_PARTITION") return true;
  return /does not host this topic-partition|unknown topic/i.test(String(error));
}
