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
import { setTimeout as sleep } from "node:timers/promises";
import type { Consumer, EachBatchPayload, IHeaders, Kafka, Producer } from "kafkajs";
import { decodeFromStorage, encodeForStorage } from "../../events/json-format.js";
import type { Logger } from "../../observability/logger.js";
import type { DeadLetterEntry, DeadLetterRecord, DeadLetterStore } from "../dead-letter.js";
import type { KafkaAdmin } from "./admin.js";
import { topicName } from "./naming.js";
import type { KafkaSettings } from "./settings.js";

const READ_WAIT_MS = 10_000;
const RESTART_MS = 1_000;
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
  private position = 0;
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
  ) {
    this.topic = deadLetterTopic(settings.namePrefix);
    this.groupId = `${this.topic}/reader-${randomUUID()}`;
    this.producer = kafka.producer({
      allowAutoTopicCreation: true,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    this.producer.on(this.producer.events.DISCONNECT, () => {
      this.producing = undefined;
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

  private async send(
    messages: Array<{ key: string; value: string | null; headers: IHeaders }>,
  ): Promise<void> {
    if (this.closed) throw new Error("the Kafka backing is closed");
    await this.makeTopic();
    this.producing ??= this.producer.connect().catch((error: unknown) => {
      this.producing = undefined;
      throw error;
    });
    await this.producing;
    // Awaited with every replica's ack: the event is acknowledged on its topic only after this.
    await this.producer.send({
      topic: this.topic,
      messages: messages.map((message) => ({ ...message, partition: 0 })),
      acks: -1,
      timeout: this.settings.requestTimeoutMs,
    });
  }

  /** Asks for a compacted topic once; a refusal leaves it to auto-creation. */
  private makeTopic(): Promise<void> {
    this.topicMade ??= this.admin
      .use((admin) =>
        admin.createTopics({
          topics: [
            {
              topic: this.topic,
              numPartitions: 1,
              replicationFactor: this.settings.replicationFactor,
              configEntries: [{ name: "cleanup.policy", value: "compact" }],
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
            "Kafka refused CreateTopics for dead letters; relying on topic auto-creation",
          );
        },
      );
    return this.topicMade;
  }

  /** Starts the reader if needed, then waits until it indexed partition 0 up to its end now. */
  private async ready(): Promise<void> {
    if (this.closed) throw new Error("the Kafka backing is closed");
    this.start();
    await this.makeTopic();
    let ends: Array<{ partition: number; high: string; low: string }>;
    try {
      ends = await this.admin.use((admin) => admin.fetchTopicOffsets(this.topic), READ_WAIT_MS);
    } catch (error) {
      // No topic yet (a cluster that auto-creates it on the first entry): nothing is stored.
      if (isUnknownTopic(error)) return;
      throw error;
    }
    const end = ends.find((e) => e.partition === 0);
    if (end === undefined || Number(end.high) <= Number(end.low)) return;
    const deadline = Date.now() + READ_WAIT_MS;
    while (this.position < Number(end.high)) {
      // Deciding from a partial index could push out or miss entries: better to fail the call.
      if (Date.now() >= deadline || this.closed) {
        throw new Error(`the dead-letter index of ${this.topic} is behind`);
      }
      await sleep(20);
    }
  }

  private start(): void {
    if (this.closed || this.starting !== undefined) return;
    this.starting = this.launch().catch((error: unknown) => {
      this.logger.debug(
        { err: error, topic: this.topic },
        "Kafka dead-letter reader did not start",
      );
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
      this.logger.warn({ err: payload.error }, "Kafka dead-letter reader stopped; restarting");
      this.restartLater();
    });
    await consumer.connect();
    // The group is this process's alone and never commits: every start reads from the beginning.
    await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch: (payload) => this.take(payload) });
    if (this.closed) await consumer.disconnect().catch(() => undefined);
  }

  private async take({ batch }: EachBatchPayload): Promise<void> {
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
    if (batch.messages.length > 0) this.position = Number(batch.lastOffset()) + 1;
  }
}

function isUnknownTopic(error: unknown): boolean {
  const type = (error as { type?: string } | undefined)?.type;
  if (type === "UNKNOWN_TOPIC_OR_PARTITION") return true;
  return /does not host this topic-partition|unknown topic/i.test(String(error));
}
