/**
 * Reading back what a Kafka topic with retention keeps (CONTRACT §11 replay). A real Kafka would
 * seek each partition to the window's start with offsetsForTimes (ListOffsets by timestamp); the
 * Kafka mock the tests run against answers that with the end offsets whatever the timestamp, so
 * this reads each partition from its earliest offset and keeps the records whose timestamp falls
 * in the window. A partition is done at the window's end or at the high watermark it had when the
 * read began, so a busy topic cannot keep a replay reading forever. Partitions are read side by
 * side and merged by timestamp, so events come oldest first across the topic.
 */
import { randomUUID } from "node:crypto";
import type { Kafka } from "kafkajs";
import type { Logger } from "../../observability/logger.js";
import type { ArchivedEvent } from "../backing.js";
import type { KafkaAdmin } from "./admin.js";
import { fromRecord } from "./record.js";
import type { KafkaSettings } from "./settings.js";

/** Events a partition reads ahead of the merge before its fetch waits. */
const READ_AHEAD = 1_024;

export async function* readKafkaArchive(
  kafka: Kafka,
  admin: KafkaAdmin,
  settings: KafkaSettings,
  logger: Logger,
  topic: string,
  fromMs: number,
  toMs: number,
): AsyncIterable<ArchivedEvent> {
  if (toMs <= fromMs) return;
  let ends: Array<{ partition: number; high: string; low: string }>;
  try {
    ends = await admin.use((a) => a.fetchTopicOffsets(topic));
  } catch (error) {
    if (isUnknownTopic(error)) return;
    throw error;
  }
  /** Partitions still to read, with the offset to stop before. */
  const remaining = new Map<number, number>();
  for (const end of ends) {
    if (Number(end.high) > Number(end.low)) remaining.set(end.partition, Number(end.high));
  }
  if (remaining.size === 0) return;

  /** Per partition still read or not yet emitted: what was read and is not yet emitted. */
  const buffers = new Map<number, ArchivedEvent[]>();
  for (const partition of remaining.keys()) buffers.set(partition, []);
  let failure: unknown;
  let stopped = false;
  let wakeReader: (() => void) | undefined;
  const wakeWriters = new Set<() => void>();
  const wake = () => {
    wakeReader?.();
    wakeReader = undefined;
  };
  // A group of its own that never commits: a fresh one starts at the earliest offsets.
  const groupId = `eventail-archive-${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: settings.sessionTimeoutMs,
    rebalanceTimeout: settings.rebalanceTimeoutMs,
    heartbeatInterval: settings.heartbeatIntervalMs,
    maxWaitTimeInMs: settings.fetchMaxWaitMs,
    allowAutoTopicCreation: false,
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart) return;
    failure = payload.error;
    wake();
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      // Every partition at once: the merge waits on the slowest, so none may block the others.
      partitionsConsumedConcurrently: Math.max(remaining.size, 1),
      eachBatch: async ({ batch }) => {
        const high = remaining.get(batch.partition);
        const buffer = buffers.get(batch.partition);
        if (high === undefined || buffer === undefined || stopped) return;
        let finished = false;
        for (const message of batch.messages) {
          const at = Number(message.timestamp);
          if (Number(message.offset) >= high || at >= toMs) {
            finished = true;
            break;
          }
          if (at < fromMs || message.value === null) continue;
          try {
            buffer.push({ event: fromRecord(message), at });
          } catch (error) {
            // A record that is not an Eventail event is no part of the archive.
            logger.debug({ err: error, topic, offset: message.offset }, "skipping record");
          }
        }
        if (finished || Number(batch.lastOffset()) + 1 >= high) remaining.delete(batch.partition);
        wake();
        while (buffer.length > READ_AHEAD && !stopped) {
          await new Promise<void>((resolve) => wakeWriters.add(resolve));
        }
      },
    });
    for (;;) {
      if (failure !== undefined) throw failure;
      // The oldest head among the partitions, once each partition still read has one to offer.
      let oldest: ArchivedEvent[] | undefined;
      let waiting = false;
      for (const [partition, buffer] of buffers) {
        if (buffer.length === 0) {
          if (remaining.has(partition)) waiting = true;
          else buffers.delete(partition);
          continue;
        }
        if (oldest === undefined || buffer[0]!.at < oldest[0]!.at) oldest = buffer;
      }
      if (!waiting && oldest !== undefined) {
        yield oldest.shift()!;
        if (oldest.length <= READ_AHEAD) {
          for (const resume of wakeWriters) resume();
          wakeWriters.clear();
        }
        continue;
      }
      if (!waiting && buffers.size === 0) return;
      await new Promise<void>((resolve) => {
        wakeReader = resolve;
      });
    }
  } finally {
    stopped = true;
    for (const resume of wakeWriters) resume();
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroup(groupId).catch(() => undefined);
  }
}

function isUnknownTopic(error: unknown): boolean {
  const type = (error as { type?: string } | undefined)?.type;
  if (type === "UNKNOWN_TOPIC_OR_PARTITION") return true;
  return /does not host this topic-partition|unknown topic/i.test(String(error));
}
