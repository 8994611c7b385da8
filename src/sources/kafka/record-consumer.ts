import { setTimeout as sleep } from "node:timers/promises";
import type { Batch, Consumer, EachBatchPayload, KafkaMessage } from "kafkajs";
import { OffsetCommitter, PartitionProgress } from "../../backing/kafka-consumer-core.js";
import type { Logger } from "../../observability/logger.js";
import { kafkaClient } from "./client.js";
import type { KafkaSecurity } from "./kafka-auth.js";

export interface ConsumerTuning {
  /** kafkajs defaults: 30000 / 60000 / 3000 ms. */
  readonly sessionTimeoutMs?: number;
  readonly rebalanceTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  /** How long a fetch waits for records; bounds how long stop() waits. Default 1000. */
  readonly maxWaitTimeMs?: number;
}

export interface RecordConsumerOptions extends ConsumerTuning {
  readonly clientId: string;
  readonly brokers: readonly string[];
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where a group with no committed offset starts: earliest (true) or latest. */
  readonly fromBeginning: boolean;
  /** One record at a time per partition; otherwise up to `concurrency` at once. */
  readonly ordered: boolean;
  readonly concurrency?: number;
  /** TLS and SASL settings of the connection (net.ts). */
  readonly security?: KafkaSecurity;
}

export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
}

/**
 * Handles one record. Resolves true once the record is finished with (delivered, dead-lettered
 * or given up on) so its offset may be committed; false when it was cut short by shutdown and
 * must be read again next time.
 */
export type RecordHandler = (record: ConsumedRecord) => Promise<boolean>;

const HEARTBEAT_MS = 1000;

/**
 * A kafkajs consumer-group member that hands each record to a handler and commits offsets only
 * once the records before them have finished too, so a crash redelivers rather than loses.
 * Connecting happens in the background with backoff, so a cluster that is down does not hold up
 * whoever starts it.
 */
export class KafkaRecordConsumer {
  private readonly consumer: Consumer;
  private readonly committer: OffsetCommitter;
  private progress = new Map<string, PartitionProgress>();
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly options: RecordConsumerOptions,
    private readonly handler: RecordHandler,
    private readonly logger: Logger,
  ) {
    const kafka = kafkaClient(options.brokers, logger, options.clientId, options.security);
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: true,
      maxWaitTimeInMs: options.maxWaitTimeMs ?? 1000,
      ...(options.sessionTimeoutMs === undefined
        ? {}
        : { sessionTimeout: options.sessionTimeoutMs }),
      ...(options.rebalanceTimeoutMs === undefined
        ? {}
        : { rebalanceTimeout: options.rebalanceTimeoutMs }),
      ...(options.heartbeatIntervalMs === undefined
        ? {}
        : { heartbeatInterval: options.heartbeatIntervalMs }),
    });
    const consumer = this.consumer;
    this.committer = new OffsetCommitter({
      partitions: () => this.progress.values(),
      send: (commits) =>
        consumer.commitOffsets(
          commits.map(({ progress, commit }) => ({
            topic: progress.topic,
            partition: progress.partition,
            offset: String(commit.offset),
          })),
        ),
      // A rebalance took the partition away, or the cluster is away: the next finished record
      // carries this commit along, and a crash meanwhile only means redelivery.
      onFailure: (error) => {
        this.logger.warn({ err: error }, "offset commit failed (records will be redelivered)");
      },
    });
    // A new generation may own other partitions: progress kept from before belongs to nobody.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const progress of this.progress.values()) progress.revoked = true;
      this.progress = new Map();
    });
  }

  start(): void {
    this.loop ??= this.connectLoop();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    // Commits already requested go out before the group is left, so a graceful stop redelivers
    // nothing that was finished.
    await this.committer.drain();
    await this.consumer.disconnect().catch((error: unknown) => {
      this.logger.warn({ err: error }, "kafka consumer did not disconnect cleanly");
    });
  }

  private async connectLoop(): Promise<void> {
    let delay = 1000;
    while (!this.stopping.signal.aborted) {
      try {
        await this.consumer.connect();
        await this.consumer.subscribe({
          topics: [...this.options.topics],
          fromBeginning: this.options.fromBeginning,
        });
        await this.consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 16,
          eachBatch: (payload) => this.eachBatch(payload),
        });
        return;
      } catch (error) {
        this.logger.warn({ err: error, retryInMs: delay }, "kafka consumer could not start");
        await this.consumer.disconnect().catch(() => undefined);
        await sleep(delay, undefined, { signal: this.stopping.signal }).catch(() => undefined);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  private progressOf(batch: Batch): PartitionProgress {
    const key = `${batch.topic}\u0000${batch.partition}`;
    let progress = this.progress.get(key);
    if (!progress) {
      progress = new PartitionProgress(batch.topic, batch.partition);
      this.progress.set(key, progress);
    }
    return progress;
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale } = payload;
    const progress = this.progressOf(batch);
    const beat = setInterval(() => {
      payload.heartbeat().catch(() => undefined);
    }, HEARTBEAT_MS);
    const limit = this.options.ordered ? 1 : (this.options.concurrency ?? 32);
    const inFlight = new Set<Promise<void>>();
    try {
      for (const message of batch.messages) {
        if (!isRunning() || isStale() || this.stopping.signal.aborted) break;
        if (!progress.take(Number(message.offset))) continue;
        const one = this.handle(batch, message, progress, payload).finally(() => {
          inFlight.delete(one);
        });
        inFlight.add(one);
        while (inFlight.size >= limit) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      await this.committer.drain();
    } finally {
      clearInterval(beat);
    }
  }

  private async handle(
    batch: Batch,
    message: KafkaMessage,
    progress: PartitionProgress,
    payload: EachBatchPayload,
  ): Promise<void> {
    let finished: boolean;
    try {
      finished = await this.handler({ topic: batch.topic, partition: batch.partition, message });
    } catch (error) {
      this.logger.error(
        { err: error, topic: batch.topic, partition: batch.partition, offset: message.offset },
        "kafka record handler failed",
      );
      finished = false;
    }
    if (!finished || !progress.finish(Number(message.offset)) || progress.revoked) return;
    payload.resolveOffset(String(progress.committable! - 1));
    this.committer.request();
  }
}
