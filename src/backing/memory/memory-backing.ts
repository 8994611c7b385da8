import type { CloudEvent } from "../../events/event.js";
import {
  type Archive,
  type ArchivedEvent,
  type Backing,
  BackingFullError,
  BackingUnavailableError,
  type ConsumeHandler,
  DEFAULT_MAX_EVENTS,
  type SubscribeOptions,
  type Subscription,
} from "../backing.js";
import { ArchiveRing } from "./archive-ring.js";
import type { ConsumerGroupOptions } from "./consumer-group.js";
import { MemoryStream } from "./memory-stream.js";

export interface MemoryBackingOptions {
  /** Delay before redelivering an event whose handler rejected; doubles with each attempt. */
  readonly redeliveryDelayMs?: number;
  readonly maxRedeliveryDelayMs?: number;
  /** How long a consumer with no subscription keeps its position and the events it has not read. */
  readonly retainIdleConsumerMs?: number;
  /** Grace for in-flight handlers when a subscription or the backing closes without one. */
  readonly closeGraceMs?: number;
  /** The most events a stream with retention keeps for replay (CONTRACT §5 bounded ring). */
  readonly archiveSize?: number;
}

/** Events a memory stream with retention keeps for replay when no archiveSize is given. */
export const DEFAULT_ARCHIVE_SIZE = 100_000;

const DONE = Promise.resolve();

/**
 * The embedded backing (InMemoryChannel semantics): at-most-once across a crash, but no accepted
 * event is lost while the process lives — a rejected or abandoned event is redelivered.
 */
export class MemoryBacking implements Backing {
  readonly kind = "memory";
  private readonly streams = new Map<string, MemoryStream>();
  private readonly limits = new Map<string, number>();
  /** Streams with retention: what they keep for replay. */
  private readonly rings = new Map<string, ArchiveRing>();
  private readonly archiveSize: number;
  private readonly options: ConsumerGroupOptions;
  private closing: Promise<void> | undefined;

  constructor(options: MemoryBackingOptions = {}) {
    this.options = {
      redeliveryDelayMs: options.redeliveryDelayMs ?? 100,
      maxRedeliveryDelayMs: options.maxRedeliveryDelayMs ?? 10_000,
      retainIdleConsumerMs: options.retainIdleConsumerMs ?? 60_000,
      closeGraceMs: options.closeGraceMs ?? 30_000,
    };
    this.archiveSize = options.archiveSize ?? DEFAULT_ARCHIVE_SIZE;
  }

  async retainStream(stream: string, retentionMs: number | undefined): Promise<void> {
    if (retentionMs === undefined) {
      this.rings.delete(stream);
      return;
    }
    const ring = this.rings.get(stream);
    if (ring === undefined) this.rings.set(stream, new ArchiveRing(retentionMs, this.archiveSize));
    else ring.retentionMs = retentionMs;
  }

  readonly archive: Archive = {
    read: (stream, fromMs, toMs) => this.readArchive(stream, fromMs, toMs),
  };

  private async *readArchive(
    stream: string,
    fromMs: number,
    toMs: number,
  ): AsyncIterable<ArchivedEvent> {
    // A snapshot: events accepted while the replay runs are not part of its window's past.
    yield* this.rings.get(stream)?.window(fromMs, toMs) ?? [];
  }

  /** Resolves once the events are queued; it never waits for a consumer. */
  publish(stream: string, events: readonly CloudEvent[]): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(this.closedError());
    // Archived even without a consumer: retention keeps what a broker accepted, read or not.
    const ring = this.rings.get(stream);
    // With no consumer there is nobody to keep the events for, as with a broker without triggers.
    const target = this.streams.get(stream);
    if (target === undefined) {
      ring?.append(events, Date.now());
      return DONE;
    }
    const limit = this.limits.get(stream) ?? DEFAULT_MAX_EVENTS;
    // A batch is taken whole or not at all, like every publish.
    if (target.held.count + events.length > limit) {
      return Promise.reject(
        new BackingFullError(
          `${stream} holds ${target.held.count} undelivered events, its limit is ${limit}`,
          1,
        ),
      );
    }
    target.publish(events);
    ring?.append(events, Date.now());
    return DONE;
  }

  limitStream(stream: string, maxEvents: number): void {
    if (maxEvents === DEFAULT_MAX_EVENTS) this.limits.delete(stream);
    else this.limits.set(stream, maxEvents);
  }

  async subscribe(
    stream: string,
    name: string,
    handler: ConsumeHandler,
    options: SubscribeOptions,
  ): Promise<Subscription> {
    if (this.closing !== undefined) throw this.closedError();
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new RangeError(
        `options.concurrency must be a positive integer, got ${options.concurrency}`,
      );
    }
    if (options.typeHint !== undefined && typeof options.typeHint !== "string") {
      throw new TypeError(`options.typeHint must be a string, got ${typeof options.typeHint}`);
    }
    let target = this.streams.get(stream);
    if (target === undefined) {
      target = new MemoryStream(this.options, (empty) => {
        if (this.streams.get(stream) === empty) this.streams.delete(stream);
      });
      this.streams.set(stream, target);
    }
    return target.group(name, options.typeHint).attach(handler, options);
  }

  /**
   * Forgets the consumer at once instead of keeping its position for retainIdleConsumerMs, so the
   * stream log lets go of what only it had yet to read. One with a live subscription stays.
   */
  async removeConsumer(stream: string, name: string): Promise<void> {
    const target = this.streams.get(stream);
    const group = target?.groups.get(name);
    if (group !== undefined && group.subscriptions.length === 0) target!.forget(group);
  }

  /** Forgets every consumer without a live subscription; the stream goes with the last. */
  async removeStream(stream: string): Promise<void> {
    this.limits.delete(stream);
    this.rings.delete(stream);
    const target = this.streams.get(stream);
    if (target === undefined) return;
    for (const group of [...target.groups.values()]) {
      if (group.subscriptions.length === 0) target.forget(group);
    }
  }

  /** The consumers `stream` keeps a position for, subscribed or idle. */
  consumers(stream: string): string[] {
    return [...(this.streams.get(stream)?.groups.keys() ?? [])];
  }

  /** Events the consumer `name` of `stream` has yet to take (not counting those in flight). */
  depth(stream: string, name: string): number {
    return this.streams.get(stream)?.groups.get(name)?.depth ?? 0;
  }

  async ready(): Promise<boolean> {
    return this.closing === undefined;
  }

  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    const subscriptions = [...this.streams.values()].flatMap((stream) =>
      [...stream.groups.values()].flatMap((group) => [...group.subscriptions]),
    );
    await Promise.all(subscriptions.map((subscription) => subscription.close()));
    for (const stream of this.streams.values()) stream.stop();
    this.streams.clear();
  }

  private closedError(): BackingUnavailableError {
    return new BackingUnavailableError("the memory backing is closed", this.kind);
  }
}
