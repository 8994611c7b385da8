/**
 * Journeys on NATS (CONTRACT §11): JetStream streams, one per retention,
 * `eventail-journeys-<seconds>s` on subject `eventail-journeys.<seconds>s`, whose max_age is that
 * retention. NATS 2.9 has no per-message TTL (it came with 2.11), so the retention a Broker names
 * is the age limit of a whole stream; brokers that name different retentions write to different
 * streams.
 *
 * All reports of one turn of the event loop go out as ONE message per retention (journey-wire.ts:
 * a JSON array of reports, each carrying its expiry), published without waiting for the
 * acknowledgement once the stream is known: the engine stores one message per turn rather than one per report, and a
 * failed or dropped message loses reports, never an event, and never slows the data path.
 *
 * A lookup is answered from an in-memory index (shared with Kafka's store: journey-index.ts) that
 * the process fills by reading every journey stream (one STREAM.LIST request finds them, so a
 * restarted process or another one of a scale-out reads streams it never wrote to) with two
 * ordered consumers per stream. The tail reader starts about TAIL_BYTES before the stream's end
 * (estimated from the stream's bytes per message) and then follows; before answering, a lookup
 * waits (at most READ_WAIT_MS) until it holds each stream up to its last message as it stood when
 * the lookup began, so a report another process wrote moments ago is found. That wait is bounded
 * by TAIL_BYTES however full the stream is: a stream holding a long bench's reports (46,184
 * messages, 142 MB) once took a single reader from the start of retention longer than
 * READ_WAIT_MS, and lookups of an event accepted a moment ago answered nothing. The backfill
 * reader reads the older part, from at most MAX_INDEXED_EVENTS messages before the end (each holds
 * at least one report, and the index holds no more events than that) up to where the tail began,
 * into the index as older reports (JourneyIndex.addOlder); a lookup waits for it only when it did
 * not find the event or its acceptance. Reading costs every reading process CPU per report, so a
 * process reads only once asked: the first lookup starts the readers, and READ_IDLE_MS without a
 * lookup stops them and drops the index.
 */
import {
  DeliverPolicy,
  DiscardPolicy,
  type JsMsg,
  nanos,
  RetentionPolicy,
  StorageType,
  type StreamInfo,
} from "nats";
import type { Logger } from "../../observability/logger.js";
import type { AcceptedRecord, JourneyStore, RouteRecord, StoredJourney } from "../journey.js";
import { JourneyIndex, type JourneyReport, MAX_INDEXED_EVENTS } from "../journey-index.js";
import { journeyMessages, parseJourneyMessage, type WireReport } from "../journey-wire.js";
import type { NatsConnector, NatsLink } from "./connection.js";
import type { NatsSettings } from "./settings.js";

export const JOURNEY_STREAM_PREFIX = "eventail-journeys-";
const SUBJECT_ROOT = "eventail-journeys";
/** Reports waiting for their turn's message or for their stream, beyond which reports are dropped. */
const MAX_PENDING = 10_000;
/** Characters per message, well under NATS's default max_payload of 1 MiB. */
const MAX_MESSAGE_CHARS = 256 * 1024;
const READ_WAIT_MS = 10_000;
/** About how much of a stream's end the tail reader reads before it is caught up. */
const TAIL_BYTES = 4 * 1024 * 1024;
const READ_IDLE_MS = 10 * 60_000;
const SWEEP_MS = 60_000;
const DUPLICATE_WINDOW_MS = 120_000;

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

function retentionSeconds(retentionMs: number): number {
  return Math.max(1, Math.round(retentionMs / 1000));
}

/** The stream holding journeys of `retentionMs` (whole seconds, at least one). */
export function journeyStream(retentionMs: number): string {
  return `${JOURNEY_STREAM_PREFIX}${retentionSeconds(retentionMs)}s`;
}

/** The subject of that stream. */
export function journeySubject(retentionMs: number): string {
  return `${SUBJECT_ROOT}.${retentionSeconds(retentionMs)}s`;
}

interface Reader {
  readonly link: NatsLink;
  /** Stream sequence of the last message indexed. */
  position: number;
  /** A backfill that read all it was to. */
  done: boolean;
  stop(): void;
}

/**
 * Where a stream's tail reader starts: about TAIL_BYTES before its end, by the stream's mean
 * message size (one message per turn, so sizes vary with load; the estimate only bounds the
 * wait).
 */
export function tailStart(state: StreamInfo["state"], tailBytes = TAIL_BYTES): number {
  const first = Math.max(1, state.first_seq);
  if (state.messages <= 0) return Math.max(first, state.last_seq + 1);
  const meanBytes = Math.max(1, state.bytes / state.messages);
  const count = Math.max(1, Math.ceil(tailBytes / meanBytes));
  return Math.max(first, state.last_seq - count + 1);
}

export class NatsJourneyStore implements JourneyStore {
  private readonly index = new JourneyIndex();
  /** Retention seconds → reports (as JSON) of this turn. */
  private pending = new Map<number, string[]>();
  private pendingCount = 0;
  private flushScheduled = false;
  /** Reports waiting for their stream to be made or found. */
  private waiting = 0;
  /** Streams known to exist on `streamsLink`: their messages need no acknowledgement. */
  private readonly known = new Set<number>();
  private readonly making = new Map<number, Promise<void>>();
  private streamsLink: NatsLink | undefined;
  /** Stream name → its tail reader, while reading (a lookup until READ_IDLE_MS after the last). */
  private readonly readers = new Map<string, Reader>();
  /** Stream name → its backfill reader, until it is done. */
  private readonly backfills = new Map<string, Reader>();
  /** Streams read since the readers were last stopped (a reader started again backfills past them). */
  private readonly everRead = new Set<string>();
  private idleTimer: NodeJS.Timeout | undefined;
  /** Streams whose reader is being started. */
  private readonly starting = new Set<string>();
  /** Bumped when the readers are stopped: a reader started before then is stopped on arrival. */
  private generation = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  private warned = false;

  constructor(
    private readonly connector: NatsConnector,
    private readonly settings: NatsSettings,
    private readonly logger: Logger,
  ) {}

  writeAccepted(
    namespace: string,
    id: string,
    source: string,
    record: AcceptedRecord,
    retentionMs: number,
  ): void {
    this.write(retentionMs, [namespace, id, source, Date.now() + retentionMs, "a", record]);
  }

  writeRoute(
    namespace: string,
    id: string,
    source: string,
    route: RouteRecord,
    retentionMs: number,
  ): void {
    this.write(retentionMs, [namespace, id, source, Date.now() + retentionMs, "r", route]);
  }

  async read(namespace: string, id: string): Promise<StoredJourney[]> {
    if (this.closed) return [];
    const link = await this.connector.connected({ timeoutMs: this.settings.publishTimeoutMs });
    this.keepReading();
    const ends = await this.follow(link);
    const deadline = Date.now() + READ_WAIT_MS;
    // A stream whose reader another lookup is starting counts as behind until it runs.
    const behind = () =>
      [...ends].some(([name, last]) => {
        const reader = this.readers.get(name);
        return reader === undefined ? this.starting.has(name) : reader.position < last;
      });
    while (behind() && Date.now() < deadline && !this.closed) await sleep(20);
    // An event not found, or found without its acceptance, may be in what backfills still read.
    const backfilling = () =>
      [...ends.keys()].some((name) => this.starting.has(name) || this.backfills.has(name));
    for (;;) {
      const found = this.index.read(namespace, id);
      const whole = found.length > 0 && found.every((journey) => journey.accepted !== undefined);
      if (whole || !backfilling() || Date.now() >= deadline || this.closed) return found;
      await sleep(20);
    }
  }

  /** Sends what this turn reported and stops reading; nothing is written after. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.stopReading();
  }

  private write(retentionMs: number, report: WireReport): void {
    if (this.closed || this.pendingCount + this.waiting >= MAX_PENDING) return;
    const seconds = retentionSeconds(retentionMs);
    let reports = this.pending.get(seconds);
    if (reports === undefined) {
      reports = [];
      this.pending.set(seconds, reports);
    }
    reports.push(JSON.stringify(report));
    this.pendingCount++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pendingCount === 0) return;
    const pending = this.pending;
    this.pending = new Map();
    this.pendingCount = 0;
    const link = this.connector.current();
    // NATS is away: these reports are lost (the events are not).
    if (link === undefined) return;
    if (this.streamsLink !== link) {
      this.streamsLink = link;
      this.known.clear();
      this.making.clear();
    }
    for (const [seconds, reports] of pending) {
      const subject = `${SUBJECT_ROOT}.${seconds}s`;
      for (const payload of journeyMessages(reports, MAX_MESSAGE_CHARS)) {
        if (this.known.has(seconds)) {
          // publish throws at once on a closed or draining connection or an oversized payload;
          // this runs from setImmediate, where a throw would end the process.
          try {
            link.nc.publish(subject, ENCODER.encode(payload));
          } catch (error) {
            this.warnLost(error, seconds);
          }
          continue;
        }
        this.waiting += reports.length;
        this.makeStream(link, seconds)
          .then(() => link.js.publish(subject, ENCODER.encode(payload)))
          .then(() => {
            if (this.streamsLink === link) this.known.add(seconds);
          })
          .catch((error: unknown) => this.warnLost(error, seconds))
          .finally(() => {
            this.waiting -= reports.length;
          });
      }
    }
  }

  private warnLost(error: unknown, seconds: number): void {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn(
      { err: error, stream: `${JOURNEY_STREAM_PREFIX}${seconds}s` },
      "nats backing: journey reports were not stored",
    );
  }

  /** Finds the stream of `seconds`, or creates it with that max_age; once per link. */
  private makeStream(link: NatsLink, seconds: number): Promise<void> {
    let made = this.making.get(seconds);
    if (made === undefined) {
      const name = `${JOURNEY_STREAM_PREFIX}${seconds}s`;
      const maxAgeMs = seconds * 1000;
      made = link.jsm.streams.info(name).then(
        () => undefined,
        () =>
          link.jsm.streams
            .add({
              name,
              subjects: [`${SUBJECT_ROOT}.${seconds}s`],
              retention: RetentionPolicy.Limits,
              discard: DiscardPolicy.Old,
              max_age: nanos(maxAgeMs),
              duplicate_window: nanos(Math.min(maxAgeMs, DUPLICATE_WINDOW_MS)),
              num_replicas: this.settings.replicas,
              storage: StorageType.File,
            })
            .then(() => undefined),
      );
      this.making.set(seconds, made);
      // A failed attempt is made again by the next report.
      made.catch(() => {
        if (this.making.get(seconds) === made) this.making.delete(seconds);
      });
    }
    return made;
  }

  /**
   * Starts a reader on every journey stream not read yet on `link`, stops those of streams gone,
   * and answers each stream's last sequence now.
   */
  private async follow(link: NatsLink): Promise<Map<string, number>> {
    const ends = new Map<string, number>();
    const infos: StreamInfo[] = [];
    for await (const info of link.jsm.streams.list(`${SUBJECT_ROOT}.>`)) infos.push(info);
    const present = new Set(infos.map((info) => info.config.name));
    for (const readers of [this.readers, this.backfills]) {
      for (const [name, reader] of readers) {
        if (!present.has(name) || reader.link !== link) {
          reader.stop();
          readers.delete(name);
        }
      }
    }
    for (const info of infos) {
      const name = info.config.name;
      if (info.state.messages > 0) ends.set(name, info.state.last_seq);
      if (this.readers.has(name) || this.starting.has(name) || this.closed) continue;
      const from = Math.max(1, info.state.first_seq, info.state.last_seq - MAX_INDEXED_EVENTS + 1);
      const tail = tailStart(info.state);
      // Read before (another connection, or a reader that ended): the backfill reads past where
      // that reader got to, and may so replace what it indexed.
      if (this.everRead.has(name)) this.index.demote();
      // Two lookups at once must not start two readers of one stream, and a reader that comes up
      // after the readers were stopped (idle or close) must not run on unseen.
      const generation = this.generation;
      this.starting.add(name);
      try {
        const reader = await this.startReader(link, name, tail, (report) => this.index.add(report));
        if (this.closed || generation !== this.generation) {
          reader.stop();
          continue;
        }
        this.everRead.add(name);
        this.readers.set(name, reader);
        this.backfills.get(name)?.stop();
        this.backfills.delete(name);
        if (from < tail) {
          const backfill = await this.startBackfill(link, name, from, tail);
          if (this.closed || generation !== this.generation) backfill.stop();
          else if (!backfill.done) this.backfills.set(name, backfill);
        }
      } catch (error) {
        this.logger.debug({ err: error, stream: name }, "NATS journey reader did not start");
      } finally {
        this.starting.delete(name);
      }
    }
    return ends;
  }

  private async startReader(
    link: NatsLink,
    name: string,
    from: number,
    index: (report: JourneyReport) => void,
    after: (message: JsMsg, reader: Reader) => void = () => {},
  ): Promise<Reader> {
    const consumer = await link.js.consumers.get(name, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
    });
    const messages = await consumer.consume({ max_messages: 256 });
    const reader: Reader = {
      link,
      position: from - 1,
      done: false,
      stop: () => void messages.close(),
    };
    void (async () => {
      try {
        for await (const message of messages) {
          for (const report of parseJourneyMessage(DECODER.decode(message.data))) index(report);
          reader.position = message.seq;
          after(message, reader);
        }
      } catch (error) {
        this.logger.debug({ err: error, stream: name }, "NATS journey reader stopped");
      }
      // A reader that ended by itself is started again by the next lookup (a backfill is not).
      if (this.readers.get(name) === reader) this.readers.delete(name);
      if (this.backfills.get(name) === reader) this.backfills.delete(name);
    })();
    return reader;
  }

  /** Reads [from, until) of a stream into the index as older reports, then stops. */
  private async startBackfill(
    link: NatsLink,
    name: string,
    from: number,
    until: number,
  ): Promise<Reader> {
    const reader = await this.startReader(
      link,
      name,
      from,
      (report) => this.index.addOlder(report),
      (message, self) => {
        // Done at the tail's start, or at the stream's end (what lay before it expired).
        if (message.seq < until - 1 && message.info.pending > 0) return;
        self.done = true;
        self.stop();
        if (this.backfills.get(name) === self) this.backfills.delete(name);
      },
    );
    return reader;
  }

  /** Keeps the readers for READ_IDLE_MS from now. */
  private keepReading(): void {
    if (this.idleTimer === undefined) {
      this.idleTimer = setTimeout(() => this.stopReading(), READ_IDLE_MS).unref();
      this.sweeper = setInterval(() => this.index.sweep(), SWEEP_MS).unref();
    } else {
      this.idleTimer.refresh();
    }
  }

  private stopReading(): void {
    this.generation++;
    clearTimeout(this.idleTimer);
    clearInterval(this.sweeper);
    this.idleTimer = undefined;
    this.sweeper = undefined;
    for (const reader of [...this.readers.values(), ...this.backfills.values()]) reader.stop();
    this.readers.clear();
    this.backfills.clear();
    this.everRead.clear();
    this.index.clear();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
