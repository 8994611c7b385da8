/**
 * Following one whole topic from its start into a process's memory, the way journeys, dead letters
 * and auto-created EventTypes are kept on Kafka: a consumer group of this process alone (random
 * id, never committed), so every start reads the topic again from the earliest offset; restarted
 * after a failed start or a crash; and a check that what was read reached the topic's end as it
 * stood when a caller asked, so an answer includes what another process wrote moments before.
 *
 * The topic is asked for once with its wanted configuration (compacted for dead letters and
 * EventTypes, time-limited for journeys); a cluster that refuses CreateTopics (librdkafka's
 * mock, or a locked-down one) auto-creates it on first use with its defaults instead.
 *
 * A follower may instead read a range (journeys: a tail near the end, and a backfill before it):
 * `from` places its start per partition, `until` ends it. Such a follower seeks on every group
 * join (kafkajs forgets seeks when it restarts a crashed consumer, and the group never commits),
 * and a restarted one resumes where it stopped rather than reading its range again.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type {
  Batch,
  Consumer,
  ICustomPartitioner,
  Kafka,
  KafkaMessage,
  Message,
  Producer,
  RetryOptions,
} from "kafkajs";
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
  readonly producer: {
    readonly idempotent?: boolean;
    readonly retry: RetryOptions;
    /** Where records go; kafkajs's default (by key) when none. */
    readonly createPartitioner?: ICustomPartitioner;
  };
  /**
   * Called with every batch read, in offset order per partition, and the batch's messages before
   * `until` (all of them when there is none).
   */
  readonly take: (batch: Batch, messages: readonly KafkaMessage[]) => void;
  /**
   * Where to start, per partition, given the topic's offsets at the first start (none when the
   * topic does not exist yet); a partition left out is read from its earliest offset.
   */
  readonly from?: (ends: readonly TopicEnd[]) => ReadonlyMap<number, number>;
  /**
   * Per partition, the offset where reading ends; partitions left out are not read. Once every
   * one is reached the reader stops for good (`finished`).
   */
  readonly until?: ReadonlyMap<number, number>;
}

/** A partition's earliest offset and the offset after its last record. */
export interface TopicEnd {
  readonly partition: number;
  readonly low: number;
  readonly high: number;
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
  private done = false;

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
      ...(options.producer.createPartitioner === undefined
        ? {}
        : { createPartitioner: options.producer.createPartitioner }),
    });
    this.producer.on(this.producer.events.DISCONNECT, () => {
      this.producing = undefined;
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** A follower with `until` that has read up to it (or has nothing to read). */
  get finished(): boolean {
    return this.done;
  }

  /** Reads a range rather than the whole topic again at every start. */
  private get ranged(): boolean {
    return this.options.from !== undefined || this.options.until !== undefined;
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
    if (this.closed || this.done || this.starting !== undefined) return;
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
    if (this.closed || this.done) return;
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
    if (this.options.from !== undefined && this.positions.size === 0) {
      for (const [partition, offset] of this.options.from(await this.ends())) {
        this.positions.set(partition, offset);
      }
    }
    if (this.reachedAll()) {
      this.done = true;
      return;
    }
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
    if (this.ranged) {
      // Emitted within the join, before the first fetch: seeks made here are never raced.
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        // kafkajs throws when the consumer was stopped meanwhile (closed): nothing to place.
        try {
          this.place(consumer, payload.memberAssignment[this.topic] ?? []);
        } catch (error) {
          this.logger.debug(
            { err: error, topic: this.topic },
            `Kafka ${this.options.what} reader not placed`,
          );
        }
      });
    }
    await consumer.connect();
    // The group is this process's alone and never commits: every start reads from the beginning
    // (or, for a range, from where `place` seeks).
    await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    const until = this.options.until;
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const stop = until?.get(batch.partition);
        let messages = batch.messages;
        if (stop !== undefined && messages.length > 0 && Number(batch.lastOffset()) >= stop) {
          messages = messages.filter((message) => Number(message.offset) < stop);
        }
        this.options.take(batch, messages);
        if (batch.messages.length > 0) {
          this.positions.set(batch.partition, Number(batch.lastOffset()) + 1);
        }
        if (stop !== undefined && this.reached(batch.partition)) {
          consumer.pause([{ topic: this.topic, partitions: [batch.partition] }]);
          if (this.reachedAll()) this.finish(consumer);
        }
      },
    });
    if (this.closed) await consumer.disconnect().catch(() => undefined);
  }

  /** The topic's offsets now; none when it does not exist yet. */
  private async ends(): Promise<TopicEnd[]> {
    try {
      const ends = await this.admin.use((admin) => admin.fetchTopicOffsets(this.topic));
      return ends.map(({ partition, low, high }) => ({
        partition,
        low: Number(low),
        high: Number(high),
      }));
    } catch (error) {
      if (isUnknownTopic(error)) return [];
      throw error;
    }
  }

  /** Seeks a ranged reader's partitions to where it stands, and pauses those it must not read. */
  private place(consumer: Consumer, partitions: readonly number[]): void {
    const until = this.options.until;
    const paused: number[] = [];
    for (const partition of partitions) {
      if (until !== undefined && (!until.has(partition) || this.reached(partition))) {
        paused.push(partition);
        continue;
      }
      const offset = this.positions.get(partition);
      if (offset !== undefined)
        consumer.seek({ topic: this.topic, partition, offset: String(offset) });
    }
    if (paused.length > 0) consumer.pause([{ topic: this.topic, partitions: paused }]);
  }

  private reached(partition: number): boolean {
    const stop = this.options.until?.get(partition);
    return stop !== undefined && (this.positions.get(partition) ?? -1) >= stop;
  }

  private reachedAll(): boolean {
    const until = this.options.until;
    return until !== undefined && [...until.keys()].every((partition) => this.reached(partition));
  }

  /** Stops a reader that read its whole range (from outside the batch it is handling). */
  private finish(consumer: Consumer): void {
    this.done = true;
    if (this.consumer === consumer) this.consumer = undefined;
    setImmediate(() => void consumer.disconnect().catch(() => undefined));
  }
}

export function isUnknownTopic(error: unknown): boolean {
  const type = (error as { type?: string } | undefined)?.type;
  if (type === "UNKNOWN_TOPIC_OR_PARTITION") return true;
  return /does not host this topic-partition|unknown topic/i.test(String(error));
}
