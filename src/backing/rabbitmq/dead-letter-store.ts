/**
 * The dead-letter store on RabbitMQ (CONTRACT §11): one stream queue, `eventail.deadletters`,
 * read as a log of entries and removals (stream-log.ts), like the Kafka store's topic. An entry's
 * id is its offset, so entries list in the order they were stored, across namespaces and
 * processes. A removal is a tombstone message naming the entry; a classic queue per namespace
 * was the other way, but AMQP can neither browse a queue nor take one message out of its middle,
 * so every listing and removal would have to take the whole queue from every other process.
 *
 * Every answer is decided by log order: add waits until its own entry is applied here, then
 * tombstones the oldest entries past the store size and counts those its tombstone removed; a
 * removal tells whether its tombstone was the one that removed the entry, so of two processes
 * redriving the same entry only one hears true; a listing first appends a sync message and waits
 * for it, so it sees everything stored anywhere before it began.
 *
 * An entry is `<error context JSON>\n<event in the storage form>` (JSON escapes newlines, and the
 * storage form carries binary data as base64), not headers: a header table must fit one frame.
 */
import { decodeFromStorage, encodeForStorage } from "../../events/json-format.js";
import type { Logger } from "../../observability/logger.js";
import type { DeadLetterEntry, DeadLetterRecord, DeadLetterStore } from "../dead-letter.js";
import type { RabbitConnector } from "./connection.js";
import { unavailable } from "./connection.js";
import type { RabbitSettings } from "./settings.js";
import { type LogMessage, RabbitStreamLog } from "./stream-log.js";

export const DEAD_LETTER_STREAM = "eventail.deadletters";
const READ_WAIT_MS = 10_000;
const KIND = "eventail-kind";
const NAMESPACE = "eventail-namespace";
const ENTRY = "eventail-entry";
const EMPTY = Buffer.alloc(0);

type Meta = Omit<DeadLetterRecord, "event">;

/** An entry's message body: the error context as JSON, a newline, the event's storage form. */
export function encodeDeadLetter(record: DeadLetterRecord): Buffer {
  const { event, ...meta } = record;
  return Buffer.from(`${JSON.stringify(meta)}\n${encodeForStorage(event)}`, "utf8");
}

const optionalString = (value: unknown) => value === undefined || typeof value === "string";

/** The entry a body read from the stream holds, or undefined when it is not one. */
export function decodeDeadLetter(content: Buffer, offset: number): DeadLetterEntry | undefined {
  const text = content.toString("utf8");
  const split = text.indexOf("\n");
  if (split < 0) return undefined;
  try {
    const meta = JSON.parse(text.slice(0, split)) as Record<string, unknown> | null;
    if (
      typeof meta !== "object" ||
      meta === null ||
      Array.isArray(meta) ||
      (meta["kind"] !== "Trigger" && meta["kind"] !== "Subscription") ||
      typeof meta["name"] !== "string" ||
      typeof meta["knativeerrordest"] !== "string" ||
      !Number.isFinite(meta["attempts"]) ||
      !Number.isFinite(meta["at"]) ||
      !optionalString(meta["knativeerrorcode"]) ||
      !optionalString(meta["knativeerrordata"]) ||
      !optionalString(meta["error"]) ||
      (meta["step"] !== undefined && meta["step"] !== "reply")
    ) {
      return undefined;
    }
    const event = decodeFromStorage(text.slice(split + 1));
    return { ...(meta as unknown as Meta), event, entryId: String(offset) };
  } catch {
    return undefined;
  }
}

export class RabbitDeadLetterStore implements DeadLetterStore {
  readonly #log: RabbitStreamLog<boolean>;
  /** namespace → offset → entry, in offset order (the stream is read in order). */
  readonly #index = new Map<string, Map<number, DeadLetterEntry>>();
  /** Message id → offset of each entry listed: a second copy of one (a resent append) is skipped. */
  readonly #ids = new Map<string, number>();
  readonly #idOf = new Map<number, string>();

  constructor(
    connector: RabbitConnector,
    settings: RabbitSettings,
    logger: Logger,
    queue = DEAD_LETTER_STREAM,
  ) {
    this.#log = new RabbitStreamLog(
      connector,
      settings,
      logger,
      queue,
      {},
      (message) => this.#apply(message),
      () => {
        this.#index.clear();
        this.#ids.clear();
        this.#idOf.clear();
      },
    );
  }

  get queue(): string {
    return this.#log.queue;
  }

  async add(namespace: string, record: DeadLetterRecord, maxEntries: number): Promise<number> {
    const applied = await this.#log.appendAndApply(
      encodeDeadLetter(record),
      { [KIND]: "entry", [NAMESPACE]: namespace },
      READ_WAIT_MS,
    );
    // Stored but not read back in time: failing now would have the event kept twice; the next
    // add whose reader caught up applies the bound.
    if (applied === undefined) return 0;
    const entries = this.#index.get(namespace);
    const over = (entries?.size ?? 0) - maxEntries;
    if (entries === undefined || over <= 0) return 0;
    const oldest = [...entries.keys()].slice(0, over);
    const removed = await Promise.all(
      oldest.map((offset) => this.#tombstone(namespace, offset).catch(() => false)),
    );
    return removed.filter(Boolean).length;
  }

  async list(
    namespace: string,
    after: string | undefined,
    count: number,
  ): Promise<DeadLetterEntry[]> {
    const synced = await this.#log.appendAndApply(EMPTY, { [KIND]: "sync" }, READ_WAIT_MS);
    // Answering from a partial index could hide entries: better to fail the call.
    if (synced === undefined) {
      throw unavailable(`listing ${this.queue}`, new Error("the dead-letter index is behind"));
    }
    const from = after === undefined ? -1 : Number(after);
    const entries: DeadLetterEntry[] = [];
    for (const [offset, entry] of this.#index.get(namespace) ?? []) {
      if (entries.length >= count) break;
      if (offset > from) entries.push(entry);
    }
    return entries;
  }

  async remove(namespace: string, entryId: string): Promise<boolean> {
    const offset = Number(entryId);
    if (!/^\d+$/.test(entryId) || !Number.isSafeInteger(offset)) return false;
    return this.#tombstone(namespace, offset);
  }

  close(): Promise<void> {
    return this.#log.close();
  }

  /** True when this tombstone removed the entry (not one before it, nor the bound). */
  async #tombstone(namespace: string, offset: number): Promise<boolean> {
    const applied = await this.#log.appendAndApply(
      EMPTY,
      { [KIND]: "remove", [NAMESPACE]: namespace, [ENTRY]: String(offset) },
      READ_WAIT_MS,
    );
    // Stored but not read back in time: the entry is gone all the same.
    return applied === undefined ? true : applied.result;
  }

  #apply({ offset, content, headers, messageId }: LogMessage): boolean {
    const namespace = headers[NAMESPACE];
    if (typeof namespace !== "string") return false;
    const kind = headers[KIND];
    if (kind === "remove") {
      const entries = this.#index.get(namespace);
      const target = Number(headers[ENTRY]);
      const removed = entries?.delete(target) ?? false;
      const id = this.#idOf.get(target);
      if (id !== undefined) {
        this.#idOf.delete(target);
        this.#ids.delete(id);
      }
      if (entries?.size === 0) this.#index.delete(namespace);
      return removed;
    }
    if (kind !== "entry") return false;
    if (messageId !== undefined && this.#ids.has(messageId)) return false;
    const entry = decodeDeadLetter(content, offset);
    // Not an entry of ours (a hand-made message): skipped, as the Kafka store does.
    if (entry === undefined) return false;
    let entries = this.#index.get(namespace);
    if (entries === undefined) {
      entries = new Map();
      this.#index.set(namespace, entries);
    }
    entries.set(offset, entry);
    if (messageId !== undefined) {
      this.#ids.set(messageId, offset);
      this.#idOf.set(offset, messageId);
    }
    return true;
  }
}
