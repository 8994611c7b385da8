/**
 * Auto-created EventTypes on Kafka (CONTRACT §11), shared by every process on the cluster: one
 * compacted topic, `<prefix>.eventtypes`, keyed by the EventType's identity (namespace, broker,
 * type, source). Kafka has no compare-and-set, so a record does not hold one running count that
 * two writers could overwrite: it holds, per writer (one id per process lifetime), that writer's
 * running totals (count, first and last seen), which only grow. Every process follows the whole
 * topic into its view (topic-follower.ts) and folds the records of a key slot by slot (the
 * largest count of each writer, the earliest first and latest last seen; schemas merged), so the
 * order records arrive in and a record read twice change nothing.
 *
 * A flush (the registry's, once a second) adds its batch to this process's own totals and writes,
 * per key it touched, one record: every slot the view knows plus its own, and the merged schema.
 * So the latest record of a key holds what its writer knew, and compaction, which keeps only that
 * one, keeps the sum — unless two writers raced and the later one had not yet read the earlier.
 * Every process checks the latest record of each key against its view and, when the view knows
 * more (a larger count in some slot), writes the key again after a short random delay: a live
 * process heals a race, and any process reading the topic heals one left by a process that died.
 *
 * A failed send keeps its keys to write with the next flush (the totals are cumulative, so
 * nothing is counted twice); add() does not reject for it.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Batch, Kafka, Message } from "kafkajs";
import type { Logger } from "../../observability/logger.js";
import type { EventTypeStore, ObservedEventType } from "../event-type-store.js";
import type { KafkaAdmin } from "./admin.js";
import { topicName } from "./naming.js";
import type { KafkaSettings } from "./settings.js";
import { TopicFollower } from "./topic-follower.js";

const READ_WAIT_MS = 10_000;
const RETRY_MS = 1_000;
/** Repairs wait 1–3 s, so one process's rewrite usually reaches the others before theirs. */
const REPAIR_MIN_MS = 1_000;
const REPAIR_SPREAD_MS = 2_000;
/** EventTypes the view holds at most (the registry creates at most 10 000 per flush). */
export const MAX_KNOWN = 100_000;

export function eventTypeTopic(prefix: string): string {
  return topicName(prefix, "eventtypes");
}

/** A writer's running totals: count, first seen, last seen. */
type Slot = readonly [number, number, number];

interface Identity {
  readonly namespace: string;
  readonly broker: string;
  readonly type: string;
  readonly source: string;
}

interface StoredValue extends Identity {
  /** The writer of this record. */
  readonly by: string;
  readonly writers: Record<string, Slot>;
  readonly schema?: unknown;
}

interface Known extends Identity {
  /** Per writer, the largest totals read. */
  readonly writers: Map<string, Slot>;
  /** Per record writer, the schema of its latest record (each is a widening of the one before). */
  readonly schemas: Map<string, unknown>;
  /** The latest record under this key, the one compaction keeps. */
  latest: StoredValue | undefined;
}

interface Own {
  slot: Slot;
  schema?: unknown;
}

type Merge = (a: unknown, b: unknown) => unknown;

export function eventTypeKey(o: Identity): string {
  return JSON.stringify([o.namespace, o.broker, o.type, o.source]);
}

export class KafkaEventTypeStore implements EventTypeStore {
  readonly topic: string;
  /** This process's writer id; a restart is a new writer, whose slots start at zero. */
  readonly writer = randomUUID().replaceAll("-", "").slice(0, 16);
  private readonly view = new Map<string, Known>();
  /** What this process added, per key (its slot, and the schema it inferred). */
  private readonly own = new Map<string, Own>();
  private dirty = new Set<string>();
  private sending: Promise<void> = Promise.resolve();
  private readonly follower: TopicFollower;
  private mergeSchema: Merge | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private repairTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private warned = false;
  private warnedFull = false;

  constructor(
    kafka: Kafka,
    admin: KafkaAdmin,
    private readonly settings: KafkaSettings,
    private readonly logger: Logger,
  ) {
    this.topic = eventTypeTopic(settings.namePrefix);
    this.follower = new TopicFollower(kafka, admin, settings, logger, {
      topic: this.topic,
      what: "EventType",
      numPartitions: settings.numPartitions,
      configEntries: [{ name: "cleanup.policy", value: "compact" }],
      producer: { retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 } },
      take: (batch) => this.take(batch),
    });
  }

  async add(observations: readonly ObservedEventType[], mergeSchema: Merge): Promise<void> {
    if (this.closed) return;
    this.mergeSchema = mergeSchema;
    this.follower.start();
    for (const o of observations) {
      const key = eventTypeKey(o);
      const old = this.own.get(key);
      const slot: Slot =
        old === undefined
          ? [o.count, o.firstSeen, o.lastSeen]
          : [
              old.slot[0] + o.count,
              Math.min(old.slot[1], o.firstSeen),
              Math.max(old.slot[2], o.lastSeen),
            ];
      const schema = both(mergeSchema, old?.schema, o.schema);
      this.own.set(key, { slot, ...(schema === undefined ? {} : { schema }) });
      this.dirty.add(key);
    }
    await this.flush();
  }

  async list(namespace?: string, mergeSchema?: Merge): Promise<ObservedEventType[]> {
    if (!this.closed) {
      // Kafka away or the reader slow: answer from what is read (and this process's own).
      await this.follower.catchUp(READ_WAIT_MS).catch(() => undefined);
    }
    const merge = mergeSchema ?? this.mergeSchema;
    const out: ObservedEventType[] = [];
    const keys = new Set([...this.view.keys(), ...this.own.keys()]);
    for (const key of keys) {
      const entry = this.entry(key, merge);
      if (entry !== undefined && (namespace === undefined || entry.namespace === namespace)) {
        out.push(entry);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    clearTimeout(this.repairTimer);
    // What was added just before close still reaches Kafka (a restart reads it back).
    // The bound's timer is cancelled once the flush is done, so it cannot hold the process open.
    const bound = new AbortController();
    await Promise.race([
      this.flush(),
      sleep(this.settings.requestTimeoutMs, undefined, { signal: bound.signal }).catch(
        () => undefined,
      ),
    ]);
    bound.abort();
    this.closed = true;
    await this.follower.close();
  }

  /** Writes the dirty keys, one send at a time; a failure keeps them for the next. */
  private flush(): Promise<void> {
    this.sending = this.sending.then(() => this.sendDirty());
    return this.sending;
  }

  private async sendDirty(): Promise<void> {
    if (this.dirty.size === 0 || this.closed) return;
    const keys = this.dirty;
    this.dirty = new Set();
    const messages: Message[] = [];
    for (const key of keys) {
      const value = this.record(key);
      if (value !== undefined) messages.push({ key, value: JSON.stringify(value) });
    }
    try {
      await this.follower.send(messages, -1);
    } catch (error) {
      for (const key of keys) this.dirty.add(key);
      if (!this.warned) {
        this.warned = true;
        this.logger.warn(
          { err: error, topic: this.topic },
          "kafka backing: EventTypes not written yet; retrying",
        );
      }
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => void this.flush(), RETRY_MS).unref();
    }
  }

  /** The record to write for `key`: every slot known, this process's own, the merged schema. */
  private record(key: string): StoredValue | undefined {
    const known = this.view.get(key);
    const own = this.own.get(key);
    const identity = known ?? (own === undefined ? undefined : parseKey(key));
    if (identity === undefined) return undefined;
    const writers = Object.fromEntries(this.slots(known, own));
    const schema = this.schema(known, own, this.mergeSchema);
    return {
      namespace: identity.namespace,
      broker: identity.broker,
      type: identity.type,
      source: identity.source,
      by: this.writer,
      writers,
      ...(schema === undefined ? {} : { schema }),
    };
  }

  private entry(key: string, merge: Merge | undefined): ObservedEventType | undefined {
    const known = this.view.get(key);
    const own = this.own.get(key);
    const identity = known ?? (own === undefined ? undefined : parseKey(key));
    if (identity === undefined) return undefined;
    let count = 0;
    let firstSeen = Number.POSITIVE_INFINITY;
    let lastSeen = 0;
    for (const [, [c, first, last]] of this.slots(known, own)) {
      count += c;
      firstSeen = Math.min(firstSeen, first);
      lastSeen = Math.max(lastSeen, last);
    }
    const schema = this.schema(known, own, merge);
    return {
      namespace: identity.namespace,
      broker: identity.broker,
      type: identity.type,
      source: identity.source,
      count,
      firstSeen: Number.isFinite(firstSeen) ? firstSeen : 0,
      lastSeen,
      ...(schema === undefined ? {} : { schema }),
    };
  }

  private slots(known: Known | undefined, own: Own | undefined): Map<string, Slot> {
    const slots = new Map(known?.writers);
    if (own !== undefined) slots.set(this.writer, maxSlot(slots.get(this.writer), own.slot));
    return slots;
  }

  /** Every writer's latest schema and this process's own, merged; without a merge, the latest. */
  private schema(
    known: Known | undefined,
    own: Own | undefined,
    merge: Merge | undefined,
  ): unknown {
    if (merge === undefined) return known?.latest?.schema ?? own?.schema;
    let schema: unknown;
    for (const s of known?.schemas.values() ?? []) schema = both(merge, schema, s);
    return both(merge, schema, own?.schema);
  }

  private take(batch: Batch): void {
    const touched = new Set<string>();
    for (const message of batch.messages) {
      const key = message.key?.toString();
      if (key === undefined || message.value === null) continue;
      let value: StoredValue;
      try {
        value = JSON.parse(message.value.toString()) as StoredValue;
        if (typeof value.by !== "string" || typeof value.writers !== "object") continue;
      } catch {
        continue; // A record that is not an EventType of ours is skipped.
      }
      let known = this.view.get(key);
      if (known === undefined) {
        if (this.view.size >= MAX_KNOWN) {
          this.full();
          continue;
        }
        known = {
          namespace: value.namespace,
          broker: value.broker,
          type: value.type,
          source: value.source,
          writers: new Map(),
          schemas: new Map(),
          latest: undefined,
        };
        this.view.set(key, known);
      }
      for (const [writer, slot] of Object.entries(value.writers)) {
        if (!isSlot(slot)) continue;
        known.writers.set(writer, maxSlot(known.writers.get(writer), slot));
      }
      if (value.schema !== undefined) known.schemas.set(value.by, value.schema);
      known.latest = value;
      touched.add(key);
    }
    let repair = false;
    for (const key of touched) {
      if (!this.covered(key)) {
        this.dirty.add(key);
        repair = true;
      }
    }
    if (repair && this.repairTimer === undefined && !this.closed) {
      this.repairTimer = setTimeout(
        () => {
          this.repairTimer = undefined;
          // Rewrite only what a record read meanwhile has not covered.
          for (const key of this.dirty) if (this.covered(key)) this.dirty.delete(key);
          void this.flush();
        },
        REPAIR_MIN_MS + Math.random() * REPAIR_SPREAD_MS,
      ).unref();
    }
  }

  /** Does the latest record of `key` hold every count this process knows of it? */
  private covered(key: string): boolean {
    const known = this.view.get(key);
    const latest = known?.latest;
    if (latest === undefined) return this.own.get(key) === undefined;
    for (const [writer, [count]] of this.slots(known, this.own.get(key))) {
      if ((latest.writers[writer]?.[0] ?? 0) < count) return false;
    }
    return true;
  }

  private full(): void {
    if (this.warnedFull) return;
    this.warnedFull = true;
    this.logger.warn(
      { max: MAX_KNOWN, topic: this.topic },
      "kafka backing: too many EventTypes on the topic; not reading more into this process",
    );
  }
}

/** `merge` is only ever given two schemas (the stores' contract); one missing is the other. */
function both(merge: Merge, a: unknown, b: unknown): unknown {
  return a === undefined ? b : b === undefined ? a : merge(a, b);
}

function maxSlot(a: Slot | undefined, b: Slot): Slot {
  if (a === undefined) return b;
  return [Math.max(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2])];
}

function isSlot(value: unknown): value is Slot {
  return Array.isArray(value) && value.length === 3 && value.every((n) => typeof n === "number");
}

function parseKey(key: string): Identity | undefined {
  const [namespace, broker, type, source] = JSON.parse(key) as string[];
  if (namespace === undefined || broker === undefined || type === undefined) return undefined;
  if (source === undefined) return undefined;
  return { namespace, broker, type, source };
}
