/**
 * Auto-created EventTypes on RabbitMQ (CONTRACT §11), shared by every process on the engine.
 *
 * RabbitMQ has no key-value store to compare-and-set into (Redis hash scripts, NATS KV), so the
 * entries are kept as a log: the stream queue `eventail.eventtypes` holds every flush as one
 * message (a batch of observations, counted once: the message is confirmed whole or not at all).
 * Each process consumes the stream from its first message and folds it into a view of its own
 * (counts add, first/last seen take min/max, schemas merge). One stream queue gives both what a
 * fanout exchange would (every process sees every update) and what the restart needs (a process
 * started later reads the log from the start), with one position per process and no window
 * between a boot read and a live subscription where an update is missed or folded twice.
 *
 * list() appends a marker and answers once its reader got there, so it includes every flush any
 * process had confirmed before the call.
 *
 * The log is bounded by snapshots: a reader that folded `snapshotEvery` log messages past the
 * latest snapshot it knows (or an hour of them, or at close) appends its whole view, with the log
 * offset it covers, to the stream `<log>.snapshots` (trimmed by size). A process starting reads the
 * newest snapshot and folds the log only after the offset it covers. The fold is deterministic,
 * so every process's view at one offset is the same and concurrent snapshots agree. The log
 * keeps 7 days (x-max-age), which only drops what snapshots already cover as long as some
 * process ran in that time.
 */
import { randomUUID } from "node:crypto";
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import type { Logger } from "../../observability/logger.js";
import {
  type EventTypeStore,
  EventTypesNotWrittenError,
  type ObservedEventType,
} from "../event-type-store.js";
import { type RabbitConnector, unavailable, withTimeout } from "./connection.js";
import type { RabbitSettings } from "./settings.js";
import { onTemporaryChannel, replyCode } from "./topology.js";

export const EVENT_TYPES_QUEUE = "eventail.eventtypes";
const MARKER_HEADER = "eventail-eventtypes-marker";
/** On a snapshot: the log offset it covers, so a reader parses only the newest one. */
const COVERS_HEADER = "eventail-eventtypes-covers";
const PREFETCH = 1_000;
/** Snapshots can be large: few in flight while a process looks for the newest. */
const SNAPSHOT_PREFETCH = 4;
const SNAPSHOT_EVERY = 1_000;
const SNAPSHOT_INTERVAL_MS = 3_600_000;
/**
 * Stream retention drops whole segments, never the one being written: small segments let the
 * 7-day age and the snapshot size limit act. The size limit holds many snapshots, so the newest
 * survives the start-up markers written after it unless it alone is near that size.
 */
const LOG_ARGUMENTS = {
  "x-queue-type": "stream",
  "x-max-age": "7D",
  "x-stream-max-segment-size-bytes": 16 * 1024 * 1024,
} as const;
const SNAPSHOT_ARGUMENTS = {
  "x-queue-type": "stream",
  "x-max-length-bytes": 64 * 1024 * 1024,
  "x-stream-max-segment-size-bytes": 8 * 1024 * 1024,
} as const;
const PRECONDITION_FAILED = 406;

export interface RabbitEventTypeStoreOptions {
  /** The log's stream queue; snapshots go to `<queue>.snapshots`. */
  readonly queue?: string;
  /** Log messages folded past the latest snapshot before this process writes one. */
  readonly snapshotEvery?: number;
  /** false: neither read nor write snapshots (the whole log is folded). */
  readonly snapshots?: boolean;
}

type Merge = (a: unknown, b: unknown) => unknown;

interface Reader {
  readonly model: ChannelModel;
  readonly channel: Channel;
  /** Markers this process waits for, by id. */
  readonly waiting: Map<string, () => void>;
  closed: boolean;
}

function entryKey(o: { namespace: string; broker: string; type: string; source: string }): string {
  return JSON.stringify([o.namespace, o.broker, o.type, o.source]);
}

/** One batch as stored; parsed defensively, since anything may publish to the queue. */
export function parseBatch(content: Buffer): ObservedEventType[] {
  const parsed = JSON.parse(content.toString("utf8")) as unknown;
  if (!Array.isArray(parsed)) throw new Error("an EventType batch is a JSON array");
  return parseEntries(parsed);
}

export interface Snapshot {
  /** The log offset of the last message folded into `entries`. */
  readonly covers: number;
  readonly entries: ObservedEventType[];
}

/** One snapshot as stored; parsed defensively like a batch. */
export function parseSnapshot(content: Buffer): Snapshot {
  const parsed = JSON.parse(content.toString("utf8")) as Record<string, unknown> | null;
  const covers = parsed?.["covers"];
  if (typeof covers !== "number" || !Number.isSafeInteger(covers) || covers < 0) {
    throw new Error("covers: not an offset");
  }
  const entries = parsed?.["entries"];
  if (!Array.isArray(entries)) throw new Error("entries: not an array");
  return { covers, entries: parseEntries(entries) };
}

function parseEntries(parsed: unknown[]): ObservedEventType[] {
  return parsed.map((item: unknown) => {
    const o = item as Record<string, unknown> | null;
    const text = (key: string) => {
      const value = o?.[key];
      if (typeof value !== "string") throw new Error(`${key}: not a string`);
      return value;
    };
    const number = (key: string) => {
      const value = o?.[key];
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new Error(`${key}: not a number`);
      }
      return value;
    };
    return {
      namespace: text("namespace"),
      broker: text("broker"),
      type: text("type"),
      source: text("source"),
      count: number("count"),
      firstSeen: number("firstSeen"),
      lastSeen: number("lastSeen"),
      ...(o?.["schema"] === undefined ? {} : { schema: o["schema"] }),
    };
  });
}

export class RabbitEventTypeStore implements EventTypeStore {
  readonly #view = new Map<string, ObservedEventType>();
  /** Schemas seen before this process knew how to merge them (it learns that from add). */
  readonly #unmerged = new Map<string, unknown[]>();
  #merge: Merge | undefined;
  #reader: Promise<Reader> | undefined;
  /** Stream offset of the last message folded in; a new reader goes on after it. */
  #lastOffset: number | undefined;
  /** The offset the first message of a new reader should have; more means the log was trimmed. */
  #expected: number | undefined;
  /** Offset covered by the newest snapshot this process read or wrote (-1: none). */
  #snapshotCovers = -1;
  #snapshotting: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #folded = 0;
  #offsetless = false;
  #snapshotsWritten = 0;
  readonly #queue: string;
  readonly #snapshotQueue: string;
  readonly #snapshotEvery: number;
  readonly #snapshots: boolean;

  constructor(
    private readonly connector: RabbitConnector,
    private readonly settings: RabbitSettings,
    private readonly logger: Logger,
    options: RabbitEventTypeStoreOptions = {},
  ) {
    this.#queue = options.queue ?? EVENT_TYPES_QUEUE;
    this.#snapshotQueue = `${this.#queue}.snapshots`;
    const every = options.snapshotEvery ?? SNAPSHOT_EVERY;
    // Spread so processes folding the same log do not all write a snapshot at one offset.
    this.#snapshotEvery = every + Math.floor(Math.random() * Math.ceil(every / 4));
    this.#snapshots = options.snapshots ?? true;
  }

  /** Log messages this process's readers took in (a start after a snapshot skips those it covers). */
  get foldedMessages(): number {
    return this.#folded;
  }

  get snapshotsWritten(): number {
    return this.#snapshotsWritten;
  }

  async add(observations: readonly ObservedEventType[], mergeSchema: Merge): Promise<void> {
    this.#merge = mergeSchema;
    if (observations.length === 0) return;
    try {
      const model = await this.connector.connected({ timeoutMs: this.settings.publishTimeoutMs });
      await withTimeout(
        this.#append(model, Buffer.from(JSON.stringify(observations), "utf8"), {}),
        this.settings.publishTimeoutMs,
        "writing EventTypes",
      );
    } catch (error) {
      throw new EventTypesNotWrittenError(
        `${observations.length} EventType(s) were not written: ${(error as Error).message}`,
        observations,
        { cause: error },
      );
    }
    // A writing process also folds, so it takes snapshots even if nobody lists on it: the log
    // is trimmed by age, and only what a snapshot covers may go.
    if (this.#snapshots && this.#reader === undefined) {
      this.#ensureReader().catch(() => undefined);
    }
  }

  async list(namespace?: string): Promise<ObservedEventType[]> {
    const what = "listing EventTypes";
    try {
      const reader = await this.#ensureReader();
      const marker = randomUUID();
      const reached = new Promise<void>((resolve) => reader.waiting.set(marker, resolve));
      await withTimeout(
        (async () => {
          await this.#append(reader.model, Buffer.alloc(0), { [MARKER_HEADER]: marker });
          await reached;
        })(),
        this.settings.subscribeTimeoutMs,
        what,
      ).finally(() => reader.waiting.delete(marker));
    } catch (error) {
      throw unavailable(what, error);
    }
    const out: ObservedEventType[] = [];
    for (const [key, entry] of this.#view) {
      if (namespace !== undefined && entry.namespace !== namespace) continue;
      this.#foldUnmerged(key);
      out.push(this.#view.get(key) ?? entry);
    }
    return out;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const reader = await this.#reader?.catch(() => undefined);
    this.#reader = undefined;
    if (reader && !reader.closed) {
      // What this process folded since the last snapshot may be trimmed before anyone else runs.
      await this.#snapshotting;
      this.#snapshotIfBehind(reader.model, 1);
      await this.#snapshotting;
      await reader.channel.close().catch(() => undefined);
    }
  }

  /** Declares the log and snapshot queues, once per connection. */
  async #declare(model: ChannelModel): Promise<void> {
    let queues = declared.get(model);
    if (queues?.has(this.#queue)) return;
    await this.#declareStream(model, this.#queue, LOG_ARGUMENTS);
    if (this.#snapshots) {
      await this.#declareStream(model, this.#snapshotQueue, SNAPSHOT_ARGUMENTS);
    }
    if (queues === undefined) {
      queues = new Set();
      declared.set(model, queues);
    }
    queues.add(this.#queue);
  }

  async #declareStream(
    model: ChannelModel,
    queue: string,
    args: Record<string, string | number>,
  ): Promise<void> {
    try {
      await onTemporaryChannel(model, (channel) =>
        channel.assertQueue(queue, { durable: true, arguments: args }),
      );
    } catch (error) {
      if (replyCode(error) !== PRECONDITION_FAILED) throw error;
      // Declared by an earlier version without limits (arguments cannot change): keep it and
      // its counts. Snapshots still bound the start-up read; only its disk use is not bounded.
      await onTemporaryChannel(model, (channel) => channel.checkQueue(queue));
      if (!warnedUnbounded.has(queue)) {
        warnedUnbounded.add(queue);
        this.logger.warn(
          { queue, wanted: args },
          "RabbitMQ EventType stream exists with other arguments; keeping it as it is",
        );
      }
    }
  }

  async #append(
    model: ChannelModel,
    content: Buffer,
    headers: Record<string, string | number>,
    queue = this.#queue,
  ): Promise<void> {
    await this.#declare(model);
    const channel = await model.createConfirmChannel();
    channel.on("error", () => undefined);
    try {
      channel.sendToQueue(queue, content, {
        persistent: true,
        contentType: "application/json",
        headers,
      });
      await channel.waitForConfirms();
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  #ensureReader(): Promise<Reader> {
    const current = this.#reader;
    if (current) {
      return current.then(
        (reader) => (reader.closed ? this.#replace(current) : reader),
        () => this.#replace(current),
      );
    }
    return this.#startReader();
  }

  /** One new reader for a closed or failed one, however many callers found it so at once. */
  #replace(stale: Promise<Reader>): Promise<Reader> {
    return this.#reader === stale || this.#reader === undefined
      ? this.#startReader()
      : this.#ensureReader();
  }

  #startReader(): Promise<Reader> {
    const starting = (async () => {
      const model = await this.connector.connected({
        timeoutMs: this.settings.subscribeTimeoutMs,
      });
      await this.#declare(model);
      if (this.#lastOffset === undefined && this.#snapshots) {
        const snapshot = await this.#readNewestSnapshot(model);
        if (snapshot && this.#lastOffset === undefined) this.#load(snapshot);
      }
      const channel = await model.createChannel();
      const reader: Reader = { model, channel, waiting: new Map(), closed: false };
      channel.on("error", (error: Error) => {
        this.logger.warn({ err: error }, "RabbitMQ EventType reader channel error");
      });
      channel.on("close", () => {
        reader.closed = true;
      });
      await channel.prefetch(PREFETCH);
      const from = this.#lastOffset === undefined ? "first" : this.#lastOffset + 1;
      this.#expected = from === "first" ? 0 : from;
      await channel.consume(
        this.#queue,
        (msg) => {
          if (msg === null) {
            // Cancelled by RabbitMQ (the queue went): the next call starts a new reader.
            reader.closed = true;
            void channel.close().catch(() => undefined);
            return;
          }
          channel.ack(msg);
          this.#receive(reader, msg);
        },
        { noAck: false, arguments: { "x-stream-offset": from } },
      );
      if (this.#snapshots && this.#timer === undefined) {
        this.#timer = setInterval(() => {
          this.#reader
            ?.then((r) => {
              if (!r.closed) this.#snapshotIfBehind(r.model, 1);
            })
            .catch(() => undefined);
        }, SNAPSHOT_INTERVAL_MS);
        this.#timer.unref();
      }
      return reader;
    })();
    this.#reader = starting;
    starting.catch(() => {
      if (this.#reader === starting) this.#reader = undefined;
    });
    return starting;
  }

  /**
   * Reads the snapshot stream to a marker appended now (AMQP tells no stream's end), keeping the
   * one covering the most of the log. The stream is size-bounded, so this read is too.
   */
  async #readNewestSnapshot(model: ChannelModel): Promise<Snapshot | undefined> {
    const channel = await model.createChannel();
    channel.on("error", () => undefined);
    const marker = randomUUID();
    let newest: Snapshot | undefined;
    try {
      await channel.prefetch(SNAPSHOT_PREFETCH);
      const reached = new Promise<void>((resolve, reject) => {
        channel.on("close", () => reject(new Error("the snapshot reader's channel closed")));
        channel
          .consume(
            this.#snapshotQueue,
            (msg) => {
              if (msg === null) return reject(new Error("the snapshot reader was cancelled"));
              channel.ack(msg);
              const headers = msg.properties.headers ?? {};
              if (headers[MARKER_HEADER] === marker) return resolve();
              const covers = headers[COVERS_HEADER];
              if (typeof covers !== "number" || covers <= (newest?.covers ?? -1)) return;
              // Parsed as it comes (one at a time in memory); one that does not parse is passed
              // over for an older one, or for the whole log.
              try {
                const snapshot = parseSnapshot(msg.content);
                if (snapshot.covers !== covers) throw new Error("covers differs from its header");
                newest = snapshot;
              } catch (error) {
                this.logger.warn(
                  { err: error },
                  "ignoring an EventType snapshot that does not parse",
                );
              }
            },
            { noAck: false, arguments: { "x-stream-offset": "first" } },
          )
          .catch(reject);
      });
      reached.catch(() => undefined);
      await withTimeout(
        (async () => {
          const headers = { [MARKER_HEADER]: marker };
          await this.#append(model, Buffer.alloc(0), headers, this.#snapshotQueue);
          await reached;
        })(),
        this.settings.subscribeTimeoutMs,
        "reading the EventType snapshot",
      );
    } finally {
      await channel.close().catch(() => undefined);
    }
    return newest;
  }

  #load(snapshot: Snapshot): void {
    for (const entry of snapshot.entries) {
      const key = entryKey(entry);
      this.#view.set(key, entry);
      if (entry.schema !== undefined) this.#merged.set(key, entry.schema);
    }
    this.#lastOffset = snapshot.covers;
    this.#snapshotCovers = snapshot.covers;
  }

  #receive(reader: Reader, msg: ConsumeMessage): void {
    const offset = msg.properties.headers?.["x-stream-offset"];
    if (typeof offset === "number") {
      // A reattached reader may be handed the chunk it had partly read again.
      if (this.#lastOffset !== undefined && offset <= this.#lastOffset) return;
      if (this.#expected !== undefined && offset > this.#expected) {
        this.logger.warn(
          { from: this.#expected, to: offset - 1, queue: this.#queue },
          "EventType log messages were trimmed before a snapshot covered them: their counts are lost",
        );
      }
      this.#expected = undefined;
      this.#lastOffset = offset;
    } else {
      // A snapshot names the offset it covers: without offsets none can be right.
      this.#offsetless = true;
    }
    this.#folded++;
    this.#apply(reader, msg, offset);
    this.#snapshotIfBehind(reader.model, this.#snapshotEvery);
  }

  #apply(reader: Reader, msg: ConsumeMessage, offset: unknown): void {
    const marker = msg.properties.headers?.[MARKER_HEADER];
    if (marker !== undefined) {
      reader.waiting.get(String(marker))?.();
      return;
    }
    let batch: ObservedEventType[];
    try {
      batch = parseBatch(msg.content);
    } catch (error) {
      this.logger.warn({ err: error, offset }, "skipping a message that is no EventType batch");
      return;
    }
    for (const o of batch) this.#fold(o);
  }

  /** Writes a snapshot of the view when it is `behind` log messages past the newest one known. */
  #snapshotIfBehind(model: ChannelModel, behind: number): void {
    const covers = this.#lastOffset;
    const merge = this.#merge;
    // Without the merge function the view shows unmerged schemas, which no snapshot may keep.
    if (!this.#snapshots || this.#offsetless || covers === undefined || merge === undefined) {
      return;
    }
    if (this.#snapshotting !== undefined || covers - this.#snapshotCovers < behind) return;
    for (const key of [...this.#unmerged.keys()]) this.#foldUnmerged(key);
    const content = Buffer.from(JSON.stringify({ covers, entries: [...this.#view.values()] }));
    // Set now, so the messages folded while it is written do not start another; a failed one is
    // retried after `snapshotEvery` more, within the hour, or at close.
    this.#snapshotCovers = covers;
    this.#snapshotting = withTimeout(
      this.#append(model, content, { [COVERS_HEADER]: covers }, this.#snapshotQueue),
      this.settings.publishTimeoutMs,
      "writing an EventType snapshot",
    )
      .then(() => {
        this.#snapshotsWritten++;
      })
      .catch((error: unknown) => {
        this.logger.warn({ err: error }, "could not write an EventType snapshot; will try again");
      })
      .finally(() => {
        this.#snapshotting = undefined;
      });
  }
  #fold(o: ObservedEventType): void {
    const key = entryKey(o);
    const old = this.#view.get(key);
    if (o.schema !== undefined) {
      const waiting = this.#unmerged.get(key) ?? [];
      waiting.push(o.schema);
      this.#unmerged.set(key, waiting);
    }
    const { schema: _, ...counts } = o;
    this.#view.set(
      key,
      old === undefined
        ? counts
        : {
            ...old,
            count: old.count + o.count,
            firstSeen: Math.min(old.firstSeen, o.firstSeen),
            lastSeen: Math.max(old.lastSeen, o.lastSeen),
          },
    );
    this.#foldUnmerged(key);
  }

  /** Merges the schemas that waited for a merge function, in log order. */
  #foldUnmerged(key: string): void {
    const merge = this.#merge;
    const waiting = this.#unmerged.get(key);
    const entry = this.#view.get(key);
    if (waiting === undefined || entry === undefined) return;
    if (merge === undefined) {
      // Until this process flushed once it cannot widen: it shows the latest schema seen.
      this.#view.set(key, { ...entry, schema: waiting[waiting.length - 1] });
      return;
    }
    this.#unmerged.delete(key);
    const start = this.#merged.get(key);
    let schema = start;
    for (const next of waiting) schema = schema === undefined ? next : merge(schema, next);
    this.#merged.set(key, schema);
    this.#view.set(key, { ...entry, schema });
  }

  /** Schemas merged so far, apart from the view's (which may show an unmerged one). */
  readonly #merged = new Map<string, unknown>();
}

/** Queues declared already on a connection (declared once per connection). */
const declared = new WeakMap<ChannelModel, Set<string>>();
/** Per process, so the warning about an unbounded older stream is logged once. */
const warnedUnbounded = new Set<string>();
