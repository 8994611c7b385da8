/**
 * The dead-letter store on Kafka (CONTRACT §11). Kafka cannot delete one record, so the store is a
 * log of entries and removals: one topic, `<prefix>.deadletters`, every record on partition 0 so
 * its offset orders entries across namespaces and processes (the entryId is the offset). An entry
 * is the event in the storage form with the namespace and error context in headers, keyed by
 * `<namespace>/<offset-free uuid>`; a removal is a tombstone (null value) under the same key. On a
 * real cluster the topic is created compacted, so the cluster itself drops an entry and its
 * tombstone; a cluster that refuses CreateTopics (librdkafka's mock) auto-creates it.
 *
 * Like journeys (journey-store.ts), every process reads the whole topic into an in-memory index
 * (its own consumer group, never committed, from the earliest offset) and waits, before answering
 * or deciding anything, until that index reached the topic's end as it stood when the call began.
 * An add past the store size writes tombstones for the oldest entries and counts them (when the
 * index cannot catch up or the tombstones fail, the entry is kept anyway and the next add trims:
 * failing the add would have the event kept twice); two processes adding at once may both
 * tombstone the same entry and count it twice (an overcount, never a silent drop). A removal that lands twice is harmless, and both callers hear true.
 */
import { randomUUID } from "node:crypto";
import type { Batch, IHeaders, Kafka } from "kafkajs";
import { decodeFromStorage, encodeForStorage } from "../../events/json-format.js";
import type { Logger } from "../../observability/logger.js";
import type { DeadLetterEntry, DeadLetterRecord, DeadLetterStore } from "../dead-letter.js";
import type { KafkaAdmin } from "./admin.js";
import { topicName } from "./naming.js";
import type { KafkaSettings } from "./settings.js";
import { TopicFollower } from "./topic-follower.js";

const READ_WAIT_MS = 10_000;
const NAMESPACE_HEADER = "eventail-namespace";
const META_HEADER = "eventail-dead-letter";

type Meta = Omit<DeadLetterRecord, "event">;

export function deadLetterTopic(prefix: string): string {
  return topicName(prefix, "deadletters");
}

interface Indexed {
  readonly key: string;
  readonly entry: DeadLetterEntry;
}

export class KafkaDeadLetterStore implements DeadLetterStore {
  readonly topic: string;
  /** namespace → record key → entry, in offset order (partition 0 is read in order). */
  private readonly index = new Map<string, Map<string, Indexed>>();
  private readonly follower: TopicFollower;

  constructor(
    kafka: Kafka,
    admin: KafkaAdmin,
    settings: KafkaSettings,
    private readonly logger: Logger,
  ) {
    this.topic = deadLetterTopic(settings.namePrefix);
    this.follower = new TopicFollower(kafka, admin, settings, logger, {
      topic: this.topic,
      what: "dead-letter",
      numPartitions: 1,
      configEntries: [{ name: "cleanup.policy", value: "compact" }],
      producer: { retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1_000 } },
      take: (batch) => this.take(batch),
    });
  }

  async add(namespace: string, record: DeadLetterRecord, maxEntries: number): Promise<number> {
    const { event, ...meta } = record;
    const headers: IHeaders = {
      [NAMESPACE_HEADER]: namespace,
      [META_HEADER]: JSON.stringify(meta),
    };
    await this.send([
      { key: `${namespace}/${randomUUID()}`, value: encodeForStorage(event), headers },
    ]);
    try {
      await this.ready();
    } catch (error) {
      // The entry is stored: failing now would have the event delivered and kept again. The
      // bound is enforced by the next add whose index caught up.
      this.logger.debug({ err: error, topic: this.topic }, "dead-letter bound not checked");
      return 0;
    }
    const entries = this.index.get(namespace);
    const over = (entries?.size ?? 0) - maxEntries;
    if (entries === undefined || over <= 0) return 0;
    const oldest = [...entries.values()].slice(0, over);
    try {
      await this.send(
        oldest.map(({ key }) => ({ key, value: null, headers: { [NAMESPACE_HEADER]: namespace } })),
      );
    } catch (error) {
      this.logger.debug({ err: error, topic: this.topic }, "dead-letter bound not applied");
      return 0;
    }
    for (const { key } of oldest) entries.delete(key);
    return oldest.length;
  }

  async list(
    namespace: string,
    after: string | undefined,
    count: number,
  ): Promise<DeadLetterEntry[]> {
    await this.ready();
    const from = after === undefined ? -1 : Number(after);
    const entries: DeadLetterEntry[] = [];
    for (const { entry } of this.index.get(namespace)?.values() ?? []) {
      if (entries.length >= count) break;
      if (Number(entry.entryId) > from) entries.push(entry);
    }
    return entries;
  }

  async remove(namespace: string, entryId: string): Promise<boolean> {
    await this.ready();
    const entries = this.index.get(namespace);
    const found = [...(entries?.values() ?? [])].find(({ entry }) => entry.entryId === entryId);
    if (entries === undefined || found === undefined) return false;
    await this.send([{ key: found.key, value: null, headers: { [NAMESPACE_HEADER]: namespace } }]);
    entries.delete(found.key);
    return true;
  }

  close(): Promise<void> {
    return this.follower.close();
  }

  private send(
    messages: Array<{ key: string; value: string | null; headers: IHeaders }>,
  ): Promise<void> {
    // Awaited with every replica's ack: the event is acknowledged on its topic only after this.
    return this.follower.send(
      messages.map((message) => ({ ...message, partition: 0 })),
      -1,
    );
  }

  /** Waits until the index holds the topic up to its end now (a fresh reader starts first). */
  private async ready(): Promise<void> {
    if (this.follower.isClosed) throw new Error("the Kafka backing is closed");
    // Deciding from a partial index could push out or miss entries: better to fail the call.
    if ((await this.follower.catchUp(READ_WAIT_MS)) === "behind") {
      throw new Error(`the dead-letter index of ${this.topic} is behind`);
    }
  }

  private take(batch: Batch): void {
    if (batch.partition !== 0) return;
    for (const message of batch.messages) {
      const namespace = message.headers?.[NAMESPACE_HEADER]?.toString();
      const key = message.key?.toString();
      if (namespace === undefined || key === undefined) continue;
      let entries = this.index.get(namespace);
      if (message.value === null) {
        entries?.delete(key);
        continue;
      }
      try {
        const meta = JSON.parse(message.headers?.[META_HEADER]?.toString() ?? "") as Meta;
        const entry = { ...meta, event: decodeFromStorage(message.value), entryId: message.offset };
        if (entries === undefined) {
          entries = new Map();
          this.index.set(namespace, entries);
        }
        entries.set(key, { key, entry });
      } catch {
        // A record that is not an entry of ours is skipped.
      }
    }
  }
}
