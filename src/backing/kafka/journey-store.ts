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
 * Every process reads the topic into an in-memory index (journey-index.ts), so any process of a
 * scale-out answers and a restarted one reads it again, with two readers (each its own consumer
 * group, never committed), started by the first lookup: a process that only writes reads
 * nothing, since reading every report of every process costs each process CPU per event. The
 * tail reader starts TAIL_MESSAGES before each partition's end and follows; a lookup first waits, for at most
 * READ_WAIT_MS (a fresh process joins its group first), until it has read the topic's end as it
 * stood when the lookup began, so a report another process wrote moments ago is found. That wait
 * is bounded by the tail however full the topic is: a single reader from the earliest offset
 * took longer than READ_WAIT_MS on a large topic, and lookups answered nothing. The backfill
 * reader reads each partition from its earliest offset up to where the tail began, into the index
 * as older reports (JourneyIndex.addOlder), and stops; a lookup waits for it (within the same
 * READ_WAIT_MS) only when it did not find the event or its acceptance. A reader restarted after a
 * failure resumes where it stopped (topic-follower.ts), so nothing is read twice out of order.
 * The index drops expired reports and holds at most MAX_INDEXED_EVENTS events.
 *
 * Writes are batched per turn of the event loop and sent without waiting; a failed or dropped
 * write loses a report, never an event.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Kafka, KafkaMessage, Message } from "kafkajs";
import type { Logger } from "../../observability/logger.js";
import type { AcceptedRecord, JourneyStore, RouteRecord, StoredJourney } from "../journey.js";
import { JourneyIndex, type JourneyReport } from "../journey-index.js";
import type { KafkaAdmin } from "./admin.js";
import { topicName } from "./naming.js";
import type { KafkaSettings } from "./settings.js";
import { type TopicEnd, TopicFollower } from "./topic-follower.js";

const TOPIC_RETENTION_MS = 7 * 24 * 3600 * 1000;
const READ_WAIT_MS = 10_000;
/** Records per partition the tail reader reads before it is caught up (one report each). */
const TAIL_MESSAGES = 2_000;
const MAX_PENDING = 10_000;
const SWEEP_MS = 60_000;

export function journeyTopic(prefix: string): string {
  return topicName(prefix, "journeys");
}

export class KafkaJourneyStore implements JourneyStore {
  readonly topic: string;
  private readonly index = new JourneyIndex();
  private readonly follower: TopicFollower;
  /** Reads what lies before the tail, once the tail has placed itself; undefined when nothing does. */
  private backfill: TopicFollower | undefined;
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
      take: (_batch, messages) => this.take(messages, false),
      from: (ends) => this.tailFrom(kafka, admin, ends),
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
    const deadline = Date.now() + READ_WAIT_MS;
    // The topic missing, Kafka away or the reader slow: answer from what is indexed.
    await this.follower.catchUp(READ_WAIT_MS).catch(() => undefined);
    // An event not found, or found without its acceptance, may be in what the backfill still reads.
    for (;;) {
      const found = this.index.read(namespace, id);
      const whole = found.length > 0 && found.every((journey) => journey.accepted !== undefined);
      const backfilling = this.backfill !== undefined && !this.backfill.finished;
      if (whole || !backfilling || Date.now() >= deadline || this.closed) return found;
      await sleep(20);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    // Reports written just before close still reach Kafka (a restart reads them back).
    this.flush();
    const deadline = Date.now() + this.settings.requestTimeoutMs;
    while (this.sending > 0 && Date.now() < deadline) await sleep(10);
    await Promise.all([this.follower.close(), this.backfill?.close()]);
  }

  private write(key: string, value: JourneyReport): void {
    if (this.closed || this.pending.length + this.sending >= MAX_PENDING) return;
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

  /**
   * Where the tail starts (at its first start): TAIL_MESSAGES before each partition's end. What
   * lies before is left to a backfill reader, started here.
   */
  private tailFrom(
    kafka: Kafka,
    admin: KafkaAdmin,
    ends: readonly TopicEnd[],
  ): Map<number, number> {
    const starts = new Map<number, number>();
    const until = new Map<number, number>();
    for (const { partition, low, high } of ends) {
      const start = Math.max(low, high - TAIL_MESSAGES);
      starts.set(partition, start);
      if (low < start) until.set(partition, start);
    }
    if (this.backfill === undefined && until.size > 0 && !this.closed) {
      this.backfill = new TopicFollower(kafka, admin, this.settings, this.logger, {
        topic: this.topic,
        what: "journeys (backfill)",
        numPartitions: this.settings.numPartitions,
        configEntries: [],
        producer: { retry: { retries: 0 } },
        take: (_batch, messages) => this.take(messages, true),
        until,
      });
      this.backfill.start();
    }
    return starts;
  }

  private take(messages: readonly KafkaMessage[], older: boolean): void {
    for (const message of messages) {
      if (message.value === null) continue;
      try {
        const value = JSON.parse(message.value.toString()) as JourneyReport;
        const slot = message.key?.toString() ?? "";
        if (older) this.index.addOlder(value, slot);
        else this.index.add(value, slot);
      } catch {
        // A record that is not a report of ours is skipped.
      }
    }
  }

  private sweep(): void {
    this.index.sweep();
  }
}
