import type { CloudEvent } from "../events/event.js";
import type { DeadLetterStore } from "./dead-letter.js";
import type { EventTypeStore } from "./event-type-store.js";
import type { JourneyStore } from "./journey.js";

/**
 * The one interface every store of events goes through (memory, Redis Streams, NATS JetStream,
 * Kafka). Brokers and channels each own one stream; every trigger or subscription is one named
 * consumer of that stream with its own position.
 *
 * Delivery, retries and filtering never import an implementation: they see only this file.
 */
export interface Backing {
  /** "memory" | "redis" | "nats" | "kafka" | "rabbitmq" */
  readonly kind: string;

  /**
   * Stores the events on `stream`, in order. Resolves only once the backing has them (memory:
   * queued in this process; durable: acknowledged by the engine). Rejects with
   * BackingUnavailableError when the engine cannot be reached in time, so ingress can answer 503.
   */
  publish(stream: string, events: readonly CloudEvent[]): Promise<void>;

  /**
   * Starts one named consumer on `stream`. Consumers with the same (stream, name) in several
   * processes share the work (each event goes to one of them); consumers with different names
   * each see every event published after the consumer first existed.
   *
   * The handler's promise resolving is the acknowledgement: nothing is acked before it resolves.
   * A handler that rejects is treated as not delivered: the event is redelivered later.
   */
  subscribe(
    stream: string,
    name: string,
    handler: ConsumeHandler,
    options: SubscribeOptions,
  ): Promise<Subscription>;

  /**
   * Deletes the consumer `name` of `stream` for good: its position, and whatever the engine keeps
   * for it alone, so a deleted trigger or subscription pins no event. Called after this process's
   * subscription under that name closed; never at shutdown. A process still subscribed under the
   * name (one that has not yet seen the deletion) gets a new consumer at the stream's end.
   * Resolves when there was no such consumer; rejects only when the engine cannot be reached.
   */
  removeConsumer(stream: string, name: string): Promise<void>;

  /**
   * Deletes `stream` with the events it still holds (its broker or channel was deleted), after
   * its consumers were removed. Kafka keeps a topic it did not create.
   */
  removeStream(stream: string): Promise<void>;

  /**
   * The most undelivered events `stream` may hold before publish refuses more with
   * BackingFullError. Only a backing that holds events in this process's memory needs one; a
   * durable engine keeps them on disk under its own retention.
   */
  limitStream?(stream: string, maxEvents: number): void;

  /**
   * CONTRACT §5 `eventail.io/retention`: keep `stream`'s events for `retentionMs` after they were
   * accepted even once every consumer has them, so they can be replayed (section 11);
   * `undefined` goes back to letting an event go once every consumer has it. May be called again
   * with the same value on every reconcile.
   */
  retainStream?(stream: string, retentionMs: number | undefined): Promise<void>;

  /** Reads what retention kept; absent: this backing cannot replay. */
  readonly archive?: Archive;

  /** Where a durable engine keeps replay progress, so GET survives a restart (CONTRACT §11). */
  readonly replays?: ReplayStore;

  /**
   * Where a durable engine keeps journeys (CONTRACT §11), so every process of a scale-out answers
   * and a restart keeps them. Absent: journeys stay in this process's memory ring.
   */
  readonly journeys?: JourneyStore;

  /**
   * Where a durable engine keeps the dead-letter store (CONTRACT §11), shared by every process
   * using it. Absent: dead letters stay in this process's memory ring.
   */
  readonly deadLetters?: DeadLetterStore;

  /**
   * Where a durable engine keeps auto-created EventTypes (CONTRACT §11), shared by every process.
   * Absent: they stay in this process's memory.
   */
  readonly eventTypes?: EventTypeStore;

  /** True when the engine answers (used by /readyz). */
  ready(): Promise<boolean>;

  /** Stops every subscription (draining in-flight handlers) and disconnects. */
  close(): Promise<void>;
}

/**
 * A lease kept on a durable engine (file mode's counterpart of the Kubernetes Lease): at most one
 * holder at a time, for `ttlMs` after its last successful acquire or renew. The engine expires it
 * by itself, so a holder that dies or loses the engine frees it within one term. Timing (renewing
 * every third of the term, stepping down after two thirds without a renewal) is the caller's.
 */
export interface EngineLease {
  /** This holder's identity as the engine records it. */
  readonly holder: string;
  /**
   * Takes the lease when nobody holds it, or extends it by a full term when this holder does.
   * False when another holder has it; rejects when the engine cannot be reached.
   */
  tryAcquireOrRenew(): Promise<boolean>;
  /** Gives the lease back when this holder has it, so another need not wait the term out. */
  release(): Promise<void>;
  /**
   * Called when the engine may have freed the lease before its term is out (RabbitMQ: the
   * connection that owns it closed), so the holder steps down at once.
   */
  onLost?(listener: () => void): void;
  /**
   * How long the holder may go without renewing before the engine may free the lease, when
   * that is less than two thirds of the term (RabbitMQ: a heartbeat the server lowered).
   */
  maxSilenceMs?(): number | undefined;
  /** Disconnects; a lease still held expires on the engine. */
  close(): Promise<void>;
}

/** Events a stream kept under retention, by the time the backing accepted them. */
export interface Archive {
  /**
   * The events `stream` still keeps that were accepted in `[fromMs, toMs)`, oldest first, each
   * with its acceptance time. Reads in pages, so a long window never sits in memory at once.
   */
  read(stream: string, fromMs: number, toMs: number): AsyncIterable<ArchivedEvent>;
}

/** A replay's progress as stored on the engine. */
export interface ReplayRecord {
  readonly id: string;
  readonly state: "running" | "completed" | "failed";
  readonly sent: number;
  readonly total: number;
  readonly error?: string;
  /** When the replaying process last wrote it (ms since the epoch). */
  readonly updatedAt: number;
}

export interface ReplayStore {
  save(record: ReplayRecord): Promise<void>;
  load(id: string): Promise<ReplayRecord | undefined>;
}

export interface ArchivedEvent {
  readonly event: CloudEvent;
  /** When the backing accepted it (ms since the epoch). */
  readonly at: number;
}

/**
 * CONTRACT §5: the undelivered events a memory stream holds at most when its broker or channel
 * names no `eventail.io/memory.max-events`.
 */
export const DEFAULT_MAX_EVENTS = 100_000;

export type ConsumeHandler = (event: CloudEvent, meta: ConsumeMeta) => Promise<void>;

export interface ConsumeMeta {
  /** 1 on first delivery; higher when the backing redelivers (crash, reclaim, handler failure). */
  readonly deliveryCount: number;
  /**
   * Long-running handlers call this now and then so the engine does not hand the event to
   * another consumer while it is still being worked on (NATS `working()`, Redis XCLAIM touch).
   */
  readonly keepAlive: () => void;
}

export interface SubscribeOptions {
  /** In-flight handler bound for this consumer (unordered mode). */
  readonly concurrency: number;
  /**
   * Ordered mode: one event at a time per `partitionkey` extension value (per consumer when the
   * extension is absent).
   */
  readonly ordered: boolean;
  /**
   * The only `type` whose events can be of use to this consumer (its filter pins it). A backing
   * may skip other events without calling the handler — they count as delivered — so a broker
   * with thousands of type-filtered triggers does not pay for every trigger on every event.
   */
  readonly typeHint?: string;
}

export interface Subscription {
  /** Stops taking new events and waits for in-flight handlers, up to `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

export class BackingUnavailableError extends Error {
  constructor(
    message: string,
    readonly backing: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "BackingUnavailableError";
  }
}

/**
 * The stream holds as many undelivered events as it may (the memory backing's cap): the producer
 * should retry after `retryAfterSeconds`, by which time the consumers have taken some.
 */
export class BackingFullError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = "BackingFullError";
  }
}

/** What a Broker's ConfigMap (or a channel template) says about its backing. */
export interface BackingConfig {
  readonly kind: "memory" | "redis" | "nats" | "kafka" | "rabbitmq";
  /** redis/nats/rabbitmq: `url`; kafka: `bootstrap.servers`; and any other engine-specific keys. */
  readonly settings: Readonly<Record<string, string>>;
}

/** Stream names are shared by every process on the same engine, so they are derived from identity. */
export function brokerStream(namespace: string, broker: string): string {
  return `broker.${namespace}.${broker}`;
}

export function channelStream(namespace: string, channel: string): string {
  return `channel.${namespace}.${channel}`;
}
