/**
 * Journeys on Kafka (CONTRACT §11): one topic, `<prefix>.journeys`. All reports of one turn of the
 * event loop (under load, of the turns within SEND_GAP_MS) go out as ONE record (journey-wire.ts, shared with NATS: a JSON array of reports,
 * each carrying its expiry; split at MAX_RECORD_CHARS), so the cost per event is a share of one
 * record rather than a record, a key and a JSON object per report. On a real cluster the topic
 * is created with time retention only (`cleanup.policy=delete`, retention.ms of
 * TOPIC_RETENTION_MS): the index replaces a route's earlier outcome by its slot, so compaction by
 * key is not needed; a cluster that refuses CreateTopics (librdkafka's mock, or a locked-down
 * one) auto-creates it with its defaults instead. Kafka has no per-record TTL, so each report
 * carries its expiry (the Broker's retention from the report's time) and readers skip what has
 * expired: a retention longer than the topic's is capped by it.
 *
 * A process writes all its records to one partition (a partitioner of its own), one send at a
 * time, so its reports are read back in the order written. Two processes can still report one
 * route (a redelivery after a restart or a rebalance) on two partitions, read in either order:
 * the index keeps the report that says more (routeSupersedes), so a stale `pending` never
 * replaces the `delivered` that ended it. Each record has a key of its own: a topic made
 * compacted by an earlier version (`compact,delete`) refuses records without a key, and would
 * compact away all but the last record of a shared key. Records of that version (one report
 * each, a JSON object) are still read: a rolling upgrade loses no journeys.
 *
 * Every process reads the topic into an in-memory index (journey-index.ts), so any process of a
 * scale-out answers and a restarted one reads it again, with two readers (each its own consumer
 * group, never committed), started by the first lookup: a process that only writes reads
 * nothing, since reading every report of every process costs each process CPU per event. The
 * tail reader starts TAIL_MESSAGES records before each partition's end and follows; a lookup
 * first waits, for at most READ_WAIT_MS (a fresh process joins its group first), until it has
 * read the topic's end as it stood when the lookup began, so a report another process wrote
 * moments ago is found. That wait is bounded by the tail however full the topic is: a single
 * reader from the earliest offset took longer than READ_WAIT_MS on a large topic, and lookups
 * answered nothing. The backfill reader reads each partition from its earliest offset up to where
 * the tail began, into the index as older reports (JourneyIndex.addOlder), and stops; a lookup
 * waits for it (within the same READ_WAIT_MS) only when it did not find the event or its
 * acceptance. A reader restarted after a failure resumes where it stopped (topic-follower.ts), so
 * nothing is read twice out of order. The index drops expired reports and holds at most
 * MAX_INDEXED_EVENTS events.
 *
 * Writes are sent without waiting; a failed or dropped write loses reports, never an event.
 */
import { randomInt, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Kafka, KafkaMessage, Message, PartitionerArgs } from "kafkajs";
import type { Logger } from "../../observability/logger.js";
import type { AcceptedRecord, JourneyStore, RouteRecord, StoredJourney } from "../journey.js";
import { JourneyIndex, type JourneyReport } from "../journey-index.js";
import {
  journeyMessages,
  parseJourneyMessage,
  parseWireReport,
  type WireReport,
} from "../journey-wire.js";
import type { KafkaAdmin } from "./admin.js";
import { topicName } from "./naming.js";
import type { KafkaSettings } from "./settings.js";
import { type TopicEnd, TopicFollower } from "./topic-follower.js";

const TOPIC_RETENTION_MS = 7 * 24 * 3600 * 1000;
const READ_WAIT_MS = 10_000;
/**
 * Records per partition the tail reader reads before it is caught up. Each is one turn of one
 * process (one report when quiet, tens under load), and a process writes to one partition: 250
 * turns cover about the same time as the 2,000 single-report records read before, and the
 * lookup's wait grows with records on librdkafka's mock (one record batch per fetch).
 */
const TAIL_MESSAGES = 250;
/** Reports waiting for their turn's record or in flight, beyond which reports are dropped. */
const MAX_PENDING = 10_000;
/** Characters per record, well under Kafka's default max.message.bytes of 1 MB. */
const MAX_RECORD_CHARS = 256 * 1024;
const SWEEP_MS = 60_000;
/**
 * Least time from one send's start to the next: under load the reports of the turns between go
 * as one record, so a busy process makes tens of journey produce requests a second, not one per
 * round trip (each costs the producer and the broker a request). A quiet process's first report
 * still goes at once.
 */
const SEND_GAP_MS = 25;

export function journeyTopic(prefix: string): string {
  return topicName(prefix, "journeys");
}

export class KafkaJourneyStore implements JourneyStore {
  readonly topic: string;
  private readonly index = new JourneyIndex();
  private readonly follower: TopicFollower;
  /** Reads what lies before the tail, once the tail has placed itself; undefined when nothing does. */
  private backfill: TopicFollower | undefined;
  /** Reports (JSON each) of this turn. */
  private pending: string[] = [];
  private sending = 0;
  /** A flush's records are being sent (one at a time). */
  private flushing = false;
  private flushScheduled = false;
  private lastSendAt = Number.NEGATIVE_INFINITY;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  private warned = false;
  /** This writer's records are keyed `<writer>.<n>`: a key of their own each. */
  private readonly writer = randomUUID().slice(0, 8);
  private records = 0;

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
        { name: "cleanup.policy", value: "delete" },
        { name: "retention.ms", value: String(TOPIC_RETENTION_MS) },
      ],
      producer: {
        idempotent: false,
        retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
        createPartitioner: onePartition,
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
    this.write([namespace, id, source, Date.now() + retentionMs, "a", record]);
  }

  writeRoute(
    namespace: string,
    id: string,
    source: string,
    route: RouteRecord,
    retentionMs: number,
  ): void {
    this.write([namespace, id, source, Date.now() + retentionMs, "r", route]);
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
    // Reports written while a send was in flight go after it (at once now: no gap once closed).
    while ((this.sending > 0 || this.pending.length > 0) && Date.now() < deadline) {
      await sleep(10);
    }
    await Promise.all([this.follower.close(), this.backfill?.close()]);
  }

  private write(report: WireReport): void {
    if (this.closed || this.pending.length + this.sending >= MAX_PENDING) return;
    this.pending.push(JSON.stringify(report));
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const wait = this.lastSendAt + SEND_GAP_MS - Date.now();
    if (wait <= 0 || this.closed) setImmediate(() => this.flush());
    else setTimeout(() => this.flush(), wait);
  }

  /**
   * One send at a time, one record each: a retried send cannot land after a later one (the
   * partition then holds reports in the order written), and a large turn is never one record
   * batch over the broker's max.message.bytes. Reports of turns written meanwhile wait and go
   * together when the send in flight ends, or SEND_GAP_MS after it began if that is later.
   */
  private flush(): void {
    this.flushScheduled = false;
    const reports = this.pending;
    if (reports.length === 0 || this.flushing) return;
    this.pending = [];
    this.sending += reports.length;
    this.flushing = true;
    this.lastSendAt = Date.now();
    this.sendInOrder(journeyMessages(reports, MAX_RECORD_CHARS)).finally(() => {
      this.sending -= reports.length;
      this.flushing = false;
      // Written while this was in flight (or before close, which flushes what is left).
      if (this.pending.length > 0) this.scheduleFlush();
    });
  }

  private async sendInOrder(values: Iterable<string>): Promise<void> {
    for (const value of values) {
      try {
        await this.send([{ key: `${this.writer}.${this.records++}`, value }]);
      } catch (error) {
        if (!this.warned) {
          this.warned = true;
          this.logger.warn({ err: error }, "kafka backing: journey reports were not stored");
        }
      }
    }
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
      for (const report of decodeJourneyRecord(message.value)) {
        if (older) this.index.addOlder(report);
        else this.index.add(report);
      }
    }
  }

  private sweep(): void {
    this.index.sweep();
  }
}

/**
 * The reports of one record of the topic: a JSON array of wire reports, or one report as an
 * earlier version wrote it (a JSON object, during and after a rolling upgrade); anything else is
 * skipped, never thrown.
 */
export function decodeJourneyRecord(value: Buffer): JourneyReport[] {
  // An array (this version) starts with `[`; parseJourneyMessage skips all else.
  if (value[0] !== 0x7b) return parseJourneyMessage(value.toString("utf8"));
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString("utf8"));
  } catch {
    return [];
  }
  if (typeof parsed !== "object" || parsed === null) return [];
  const { namespace, id, source, expiresAt, accepted, route } = parsed as Partial<JourneyReport>;
  // An earlier version's report carries exactly one of the two.
  if ((accepted === undefined) === (route === undefined)) return [];
  const report = parseWireReport(
    accepted === undefined
      ? [namespace, id, source, expiresAt, "r", route]
      : [namespace, id, source, expiresAt, "a", accepted],
  );
  return report === undefined ? [] : [report];
}

/**
 * A partitioner sending every record of one producer to the same partition, picked at random
 * per producer (so processes spread over the partitions): reports are read back in the order
 * one process wrote them.
 */
function onePartition(): (args: PartitionerArgs) => number {
  const pick = randomInt(0, 2 ** 31);
  // A topic's partitions are numbered 0 to n - 1.
  return ({ partitionMetadata }) => pick % Math.max(1, partitionMetadata.length);
}
