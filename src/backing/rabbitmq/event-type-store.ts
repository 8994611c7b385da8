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
import { onTemporaryChannel } from "./topology.js";

export const EVENT_TYPES_QUEUE = "eventail.eventtypes";
const MARKER_HEADER = "eventail-eventtypes-marker";
const PREFETCH = 1_000;

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

  constructor(
    private readonly connector: RabbitConnector,
    private readonly settings: RabbitSettings,
    private readonly logger: Logger,
  ) {}

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
    const reader = await this.#reader?.catch(() => undefined);
    this.#reader = undefined;
    if (reader && !reader.closed) await reader.channel.close().catch(() => undefined);
  }

  async #append(
    model: ChannelModel,
    content: Buffer,
    headers: Record<string, string>,
  ): Promise<void> {
    await declareQueue(model);
    const channel = await model.createConfirmChannel();
    channel.on("error", () => undefined);
    try {
      channel.sendToQueue(EVENT_TYPES_QUEUE, content, {
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
        (reader) => (reader.closed ? this.#startReader() : reader),
        () => this.#startReader(),
      );
    }
    return this.#startReader();
  }

  #startReader(): Promise<Reader> {
    const starting = (async () => {
      const model = await this.connector.connected({
        timeoutMs: this.settings.subscribeTimeoutMs,
      });
      await declareQueue(model);
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
      await channel.consume(
        EVENT_TYPES_QUEUE,
        (msg) => {
          if (msg === null) {
            reader.closed = true;
            return;
          }
          channel.ack(msg);
          this.#receive(reader, msg);
        },
        { noAck: false, arguments: { "x-stream-offset": from } },
      );
      return reader;
    })();
    this.#reader = starting;
    starting.catch(() => {
      if (this.#reader === starting) this.#reader = undefined;
    });
    return starting;
  }

  #receive(reader: Reader, msg: ConsumeMessage): void {
    const offset = msg.properties.headers?.["x-stream-offset"];
    if (typeof offset === "number") {
      // A reattached reader may be handed the chunk it had partly read again.
      if (this.#lastOffset !== undefined && offset <= this.#lastOffset) return;
      this.#lastOffset = offset;
    }
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

/** Connections that declared the queue already (it is declared once per connection). */
const declared = new WeakSet<ChannelModel>();

async function declareQueue(model: ChannelModel): Promise<void> {
  if (declared.has(model)) return;
  await onTemporaryChannel(model, (channel) =>
    channel.assertQueue(EVENT_TYPES_QUEUE, {
      durable: true,
      arguments: { "x-queue-type": "stream" },
    }),
  );
  declared.add(model);
}
