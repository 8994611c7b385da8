/**
 * Journeys on RabbitMQ (CONTRACT §11): one stream queue, `eventail.journeys`, read as a log
 * (stream-log.ts) into an in-memory index by every process, like the Kafka store's topic. A
 * stream rather than a fanout exchange with a queue per process: a queue per process only holds
 * what was published while it existed, so a restarted process or a new one of a scale-out would
 * know nothing older; a stream keeps every report for its age limit (`x-max-age`, STREAM_MAX_AGE)
 * and any process reads it from the start.
 *
 * Reports are batched per turn of the event loop: one message carries every report of that turn
 * (a JSON array of `[report key, value]`), so the per-event cost is a share of one publish. The
 * report key is (namespace, id, source, acceptance | route kind and name): a route's later outcome
 * replaces its earlier one in the index. Each value carries its expiry (the Broker's retention
 * from the report's time) and readers skip what has expired; a retention longer than the stream's
 * age limit is capped by it. The index drops expired reports and holds at most MAX_INDEXED_EVENTS
 * events.
 *
 * The stream is read by two consumers. The tail starts at the messages of the last TAIL_MS (an
 * `x-stream-offset` timestamp) and then follows; a lookup first appends a sync message and waits
 * (at most READ_WAIT_MS) until the tail reads it back, so a report any process wrote before is
 * found however long the stream is (a single reader from the first offset took longer than
 * READ_WAIT_MS on a stream a long bench had filled, and lookups answered nothing). The backfill
 * reads from the first offset up to the tail's first message into the index as older reports
 * (JourneyIndex.addOlder) and then stops; a lookup waits for it only when it did not find the event
 * or its acceptance. Both start with the first lookup: a process that only writes reads nothing,
 * since reading every report of every process costs each process CPU per event.
 *
 * Writes are sent without waiting and bounded in number: a failed or dropped write loses a
 * report, never an event, and never slows the data path.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../observability/logger.js";
import type { AcceptedRecord, JourneyStore, RouteRecord, StoredJourney } from "../journey.js";
import { JourneyIndex, type JourneyReport } from "../journey-index.js";
import type { RabbitConnector } from "./connection.js";
import type { RabbitSettings } from "./settings.js";
import { type LogMessage, RabbitStreamLog } from "./stream-log.js";

export const JOURNEY_STREAM = "eventail.journeys";
const STREAM_MAX_AGE = "7D";
/** Smaller segments than the 500 MB default, so the age limit frees disk in finer steps. */
const SEGMENT_BYTES = 50_000_000;
const READ_WAIT_MS = 10_000;
/**
 * How far back the tail starts: the reports of an event accepted a moment ago, at a cost bounded
 * by what was written in that time (RabbitMQ tells no stream's size in bytes over AMQP 0-9-1).
 */
export const TAIL_MS = 10_000;
const MAX_PENDING = 10_000;
/** Reports per message at most (a frame of the body stays far below RabbitMQ's message limit). */
const MAX_BATCH = 2_000;
const SWEEP_MS = 60_000;
const KIND = "eventail-kind";
const EMPTY = Buffer.alloc(0);

type Report = [key: string, value: JourneyReport];

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The reports one message of the stream carries; anything that is not a report of ours (a
 * hand-made message, a malformed entry) is left out, never thrown.
 */
export function decodeJourneyReports(content: Buffer): Report[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content.toString("utf8"));
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed.filter((report): report is Report => {
    if (!Array.isArray(report) || report.length !== 2 || typeof report[0] !== "string") {
      return false;
    }
    const value: unknown = report[1];
    if (
      !isObject(value) ||
      typeof value["namespace"] !== "string" ||
      typeof value["id"] !== "string" ||
      typeof value["source"] !== "string" ||
      !Number.isFinite(value["expiresAt"])
    ) {
      return false;
    }
    const { accepted, route } = value;
    if (accepted !== undefined && !(isObject(accepted) && typeof accepted["stream"] === "string")) {
      return false;
    }
    if (route === undefined) return accepted !== undefined;
    return (
      isObject(route) &&
      (route["kind"] === "Trigger" || route["kind"] === "Subscription") &&
      typeof route["name"] === "string" &&
      typeof route["outcome"] === "string"
    );
  });
}

export class RabbitJourneyStore implements JourneyStore {
  readonly #log: RabbitStreamLog<void>;
  #backfill: RabbitStreamLog<void>;
  /** Offset of the first message the tail read: the backfill reads up to it. */
  #tailFrom: number | undefined;
  #backfilled = false;
  readonly #newBackfill: () => RabbitStreamLog<void>;
  readonly #index = new JourneyIndex();
  #pending: Report[] = [];
  #sending = 0;
  #flushScheduled = false;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;
  #warned = false;

  constructor(
    connector: RabbitConnector,
    private readonly settings: RabbitSettings,
    private readonly logger: Logger,
    queue = JOURNEY_STREAM,
  ) {
    const queueArguments = {
      "x-max-age": STREAM_MAX_AGE,
      "x-stream-max-segment-size-bytes": SEGMENT_BYTES,
    };
    this.#log = new RabbitStreamLog(
      connector,
      settings,
      logger,
      queue,
      queueArguments,
      (message) => {
        if (this.#tailFrom === undefined) {
          // Started once the tail has read a message: the backfill reads up to that one, and
          // the stream exists by then (two declaring a new stream at once may break a
          // connection on RabbitMQ 3.10).
          this.#tailFrom = message.offset;
          if (!this.#closed) this.#backfill.start();
        }
        this.#apply(message, (report, key) => this.#index.add(report, key));
      },
      () => {
        // The stream was deleted: both readers start again on the new one.
        this.#index.clear();
        this.#tailFrom = undefined;
        void this.#backfill.close();
        this.#backfill = this.#newBackfill();
      },
      // AMQP timestamps are in seconds; a stream starts at the chunk holding that time.
      () => ({ "!": "timestamp", value: Math.floor((Date.now() - TAIL_MS) / 1000) }),
    );
    this.#newBackfill = () => {
      this.#backfilled = false;
      const backfill: RabbitStreamLog<void> = new RabbitStreamLog(
        connector,
        settings,
        logger,
        queue,
        queueArguments,
        (message) => {
          if (this.#backfill !== backfill || this.#backfilled) return;
          if (this.#tailFrom !== undefined && message.offset >= this.#tailFrom) {
            this.#backfilled = true;
            void backfill.close();
            return;
          }
          this.#apply(message, (report, key) => this.#index.addOlder(report, key));
        },
      );
      return backfill;
    };
    this.#backfill = this.#newBackfill();
  }

  get queue(): string {
    return this.#log.queue;
  }

  writeAccepted(
    namespace: string,
    id: string,
    source: string,
    record: AcceptedRecord,
    retentionMs: number,
  ): void {
    this.#write(JSON.stringify([namespace, id, source, "a"]), {
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
    this.#write(JSON.stringify([namespace, id, source, "r", route.kind, route.name]), {
      namespace,
      id,
      source,
      expiresAt: Date.now() + retentionMs,
      route,
    });
  }

  async read(namespace: string, id: string): Promise<StoredJourney[]> {
    if (this.#closed) return [];
    this.#start();
    const deadline = Date.now() + READ_WAIT_MS;
    // Not read back in time (RabbitMQ is away or slow): answer from what is indexed.
    await this.#log.appendAndApply(EMPTY, { [KIND]: "sync" }, READ_WAIT_MS).catch(() => undefined);
    // An event not found, or found without its acceptance, may be in what the backfill still reads.
    for (;;) {
      const found = this.#index.read(namespace, id);
      const whole = found.length > 0 && found.every((journey) => journey.accepted !== undefined);
      if (whole || this.#backfilled || Date.now() >= deadline || this.#closed) return found;
      await sleep(20);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    // Reports written just before close still reach RabbitMQ (a restart reads them back).
    this.#flush();
    const deadline = Date.now() + this.settings.publishTimeoutMs;
    while (this.#sending > 0 && Date.now() < deadline) await sleep(10);
    await Promise.all([this.#log.close(), this.#backfill.close()]);
  }

  #start(): void {
    this.#sweeper ??= setInterval(() => this.#index.sweep(), SWEEP_MS).unref();
    this.#log.start();
  }

  #write(key: string, value: JourneyReport): void {
    if (this.#closed || this.#pending.length + this.#sending >= MAX_PENDING) return;
    this.#pending.push([key, value]);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    while (this.#pending.length > 0) {
      const reports = this.#pending.splice(0, MAX_BATCH);
      this.#sending += reports.length;
      this.#log
        .append(Buffer.from(JSON.stringify(reports), "utf8"), { [KIND]: "journeys" })
        .catch((error: unknown) => {
          if (this.#warned) return;
          this.#warned = true;
          this.logger.warn({ err: error }, "rabbitmq backing: journey reports were not stored");
        })
        .finally(() => {
          this.#sending -= reports.length;
        });
    }
  }

  #apply(
    { content, headers }: LogMessage,
    index: (report: JourneyReport, key: string) => void,
  ): void {
    if (headers[KIND] !== "journeys") return;
    for (const [reportKey, value] of decodeJourneyReports(content)) index(value, reportKey);
  }
}
