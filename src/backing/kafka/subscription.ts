import { setTimeout as sleep } from "node:timers/promises";
import type { Consumer, EachBatchPayload, Kafka } from "kafkajs";
import { attributeString } from "../../events/event.js";
import type { Logger } from "../../observability/logger.js";
import {
  BackingUnavailableError,
  type ConsumeHandler,
  type SubscribeOptions,
  type Subscription,
} from "../backing.js";
import { OffsetCommitter, PartitionProgress } from "../kafka-consumer-core.js";
import type { KafkaAdmin } from "./admin.js";
import { DeliveryQueue, type QueuedRecord } from "./delivery-queue.js";
import { GroupPosition } from "./group-position.js";
import { fromRecord } from "./record.js";
import type { KafkaSettings } from "./settings.js";

const DEFAULT_GRACE_MS = 30_000;

/**
 * One trigger or subscription reading one topic as one consumer group. Fetching runs ahead of
 * the handler (bounded by a backlog) so a slow record never stalls its partition; offsets are
 * committed only up to the first record whose handler has not resolved yet.
 */
export class KafkaSubscription implements Subscription {
  private consumer: Consumer | undefined;
  private readonly queue: DeliveryQueue;
  private readonly progress = new Map<number, PartitionProgress>();
  private readonly position: GroupPosition;
  private readonly backlogLimit: number;
  private closing = false;
  private closed: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly committer: OffsetCommitter;

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: KafkaAdmin,
    private readonly settings: KafkaSettings,
    private readonly logger: Logger,
    private readonly topic: string,
    private readonly groupId: string,
    handler: ConsumeHandler,
    private readonly options: SubscribeOptions,
  ) {
    const concurrency = Math.max(1, options.concurrency);
    this.backlogLimit = Math.max(2 * concurrency, 256);
    this.queue = new DeliveryQueue(
      handler,
      {
        concurrency,
        ordered: options.ordered,
        redeliveryDelayMs: settings.redeliveryDelayMs,
        redeliveryMaxDelayMs: settings.redeliveryMaxDelayMs,
        // Committing how far handlers got lets whoever inherits the partition after a crash
        // tell first deliveries from redeliveries.
        onStart: (record) => {
          if (record.progress.start(record.offset)) this.committer.request();
        },
        onAck: (record) => {
          if (record.progress.finish(record.offset)) this.committer.request();
        },
      },
      logger,
    );
    this.committer = new OffsetCommitter({
      // Between consumers (a restart) there is nobody to commit with; the next request will.
      partitions: () => (this.consumer === undefined ? [] : this.progress.values()),
      send: async (commits) => {
        const consumer = this.consumer;
        if (consumer === undefined) throw new Error("the Kafka consumer is restarting");
        await consumer.commitOffsets(
          commits.map(({ progress, commit }) => ({
            topic: this.topic,
            partition: progress.partition,
            offset: String(commit.offset),
            metadata: GroupPosition.metadata(commit.startedEnd),
          })),
        );
      },
      onFailure: (error) => {
        this.logger.debug({ group: this.groupId, err: error }, "Kafka offset commit failed");
      },
      retryDelayMs: 500,
    });
    this.position = new GroupPosition(admin, topic, groupId, logger);
  }

  /** Resolves once the group has joined, has its assignment, and every partition a position. */
  async start(): Promise<void> {
    const deadline = Date.now() + this.settings.subscribeTimeoutMs;
    for (;;) {
      try {
        await this.launch();
        const left = Math.max(0, deadline - Date.now());
        if (await this.position.waitFirst(left)) return;
        throw new Error(
          `the consumer group did not join within ${this.settings.subscribeTimeoutMs} ms`,
        );
      } catch (error) {
        if (this.closing || Date.now() >= deadline) {
          await this.close(0);
          throw new BackingUnavailableError(
            `Kafka consumer ${this.groupId} could not start: ${(error as Error).message}`,
            "kafka",
            { cause: error },
          );
        }
        this.logger.warn(
          { group: this.groupId, err: error },
          "Kafka consumer did not start; retrying",
        );
        await this.dropConsumer();
        await sleep(Math.min(1_000, Math.max(0, deadline - Date.now())));
      }
    }
  }

  private async launch(): Promise<void> {
    await this.admin.ensureTopic(this.topic);
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
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const partitions = payload.memberAssignment[this.topic] ?? [];
      this.logger.debug(
        { group: this.groupId, member: payload.memberId, leader: payload.isLeader, partitions },
        "Kafka consumer joined its group",
      );
      this.assigned(consumer, partitions);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.closing) return;
      // kafkajs gives up on errors it deems permanent; a cluster that comes back proves otherwise.
      this.logger.warn(
        { group: this.groupId, err: payload.error },
        "Kafka consumer stopped; restarting",
      );
      this.restartTimer = setTimeout(() => void this.relaunch(), 1_000);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic], fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.take(payload),
    });
  }

  private async relaunch(): Promise<void> {
    if (this.closing) return;
    await this.dropConsumer();
    try {
      await this.launch();
    } catch (error) {
      this.logger.warn({ group: this.groupId, err: error }, "Kafka consumer restart failed");
      if (!this.closing) this.restartTimer = setTimeout(() => void this.relaunch(), 1_000);
    }
  }

  private async dropConsumer(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    await consumer?.disconnect().catch(() => undefined);
  }

  /**
   * A (re)join. Partitions that moved elsewhere are forgotten, unstarted records included (their
   * new owner starts at the committed offset); partitions kept continue where this process was,
   * not at the committed offset, so records already taken are not fetched twice.
   */
  private assigned(consumer: Consumer, partitions: readonly number[]): void {
    const kept = new Set(partitions);
    let revoked = false;
    for (const [partition, progress] of this.progress) {
      if (kept.has(partition)) continue;
      progress.revoked = true;
      this.progress.delete(partition);
      revoked = true;
    }
    if (revoked) this.queue.revoke();
    for (const [partition, progress] of this.progress) {
      const next = progress.nextFetch;
      if (next !== undefined) consumer.seek({ topic: this.topic, partition, offset: String(next) });
    }
    this.position.joined(consumer, partitions);
    this.committer.request();
  }

  private async take({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
  }: EachBatchPayload): Promise<void> {
    if (this.closing) return;
    await this.position.ready(this.settings.heartbeatIntervalMs);
    const partition = batch.partition;
    let progress = this.progress.get(partition);
    if (progress === undefined) {
      progress = new PartitionProgress(this.topic, partition);
      this.progress.set(partition, progress);
    }
    let skipped = false;
    const hint = this.options.typeHint;
    for (const message of batch.messages) {
      const offset = Number(message.offset);
      if (!progress.take(offset)) continue;
      let record: QueuedRecord;
      try {
        const event = fromRecord(message);
        if (hint !== undefined && event.attributes["type"] !== hint) {
          // The consumer's filter could not match it: delivered, as far as Kafka is concerned.
          progress.finish(offset);
          skipped = true;
          continue;
        }
        record = {
          event,
          offset,
          progress,
          lane: this.options.ordered ? (attributeString(event, "partitionkey") ?? "") : "",
          deliveryCount: this.position.wasStarted(partition, offset) ? 2 : 1,
        };
      } catch (error) {
        // A record no Eventail wrote can never be delivered; waiting on it would stall the partition.
        this.logger.warn(
          { topic: this.topic, partition, offset, err: error },
          "skipping a Kafka record that is not a CloudEvent",
        );
        progress.finish(offset);
        skipped = true;
        continue;
      }
      this.queue.push(record);
    }
    if (batch.messages.length > 0) resolveOffset(batch.lastOffset());
    if (skipped) this.committer.request();
    while (!this.closing && this.queue.backlog >= this.backlogLimit && isRunning()) {
      await Promise.race([this.queue.changed(), sleep(this.settings.heartbeatIntervalMs)]);
      await heartbeat();
    }
  }

  close(graceMs = DEFAULT_GRACE_MS): Promise<void> {
    this.closed ??= this.shutDown(graceMs);
    return this.closed;
  }

  private async shutDown(graceMs: number): Promise<void> {
    this.closing = true;
    clearTimeout(this.restartTimer);
    this.position.cancel();
    try {
      this.consumer?.pause([{ topic: this.topic }]);
    } catch {
      // Not running yet: nothing is being fetched.
    }
    this.queue.stop();
    await this.queue.idle(graceMs);
    // The last acknowledgements reach Kafka before the group is left; later ones are redelivered.
    await this.committer.close(this.settings.requestTimeoutMs);
    await this.dropConsumer();
  }
}
