/**
 * The live tail's feed (CONTRACT §11): ingress publishes the events a broker or channel accepted,
 * triggers and subscriptions publish how each delivery ended, and every connected reader gets
 * what its selection asks for in a bounded queue of its own. A reader that falls behind loses
 * messages (counted, and told so in order) instead of slowing anyone: publishing never waits.
 */
import type { TailFeed, TailOrigin, TailOutcome } from "../backing/tail-feed.js";
import type { CloudEvent } from "../events/event.js";

export { tailOutcome } from "../backing/tail-feed.js";
export type { TailFeed, TailOrigin, TailOutcome };

/** One message in a reader's queue. Events are immutable values: queued by reference. */
export type TailEntry =
  | { readonly type: "cloudevent"; readonly event: CloudEvent }
  | { readonly type: "outcome"; readonly outcome: TailOutcome }
  /** `count` messages were lost here because the queue was full. */
  | { readonly type: "dropped"; count: number };

/** Which messages a reader wants; every part given must match. */
export interface TailSelection {
  readonly namespace?: string;
  /** A broker's name: its accepted events and its triggers' outcomes, no channel's. */
  readonly broker?: string;
  /** The compiled CESQL filter, applied to the event (an outcome's event included). */
  readonly matches?: (attributes: CloudEvent["attributes"]) => boolean;
}

/** Messages a reader may have waiting before newer ones are dropped. */
export const DEFAULT_TAIL_CAPACITY = 1024;

export class TailReader {
  private queue: TailEntry[] = [];
  private head = 0;
  /** Messages waiting, drop markers not counted (a marker sits between two messages at most). */
  private size = 0;
  /** Messages lost so far. */
  droppedTotal = 0;
  /** The most messages ever waiting at once: never more than capacity. */
  highWater = 0;
  /** Called when the queue goes from empty to not empty. */
  onReadable: (() => void) | undefined;

  constructor(
    readonly selection: TailSelection,
    readonly capacity: number,
    private readonly detach: (reader: TailReader) => void,
  ) {}

  /** Messages waiting. */
  get queued(): number {
    return this.size;
  }

  wants(origin: TailOrigin, event: CloudEvent): boolean {
    const { namespace, broker, matches } = this.selection;
    if (namespace !== undefined && origin.namespace !== namespace) return false;
    if (broker !== undefined && (origin.kind !== "broker" || origin.name !== broker)) return false;
    return matches === undefined || matches(event.attributes);
  }

  push(entry: TailEntry): void {
    const empty = this.head === this.queue.length;
    if (this.size >= this.capacity) {
      this.droppedTotal++;
      const last = this.queue[this.queue.length - 1]!;
      // One marker at the end counts the gap, so the reader learns where it lost messages.
      if (last.type === "dropped") last.count++;
      else this.queue.push({ type: "dropped", count: 1 });
    } else {
      this.queue.push(entry);
      this.size++;
      if (this.size > this.highWater) this.highWater = this.size;
    }
    if (empty) this.onReadable?.();
  }

  /** The oldest waiting message, removed from the queue. */
  take(): TailEntry | undefined {
    if (this.head >= this.queue.length) return undefined;
    const entry = this.queue[this.head]!;
    this.head++;
    if (entry.type !== "dropped") this.size--;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      // Compact now and then rather than shift() per message.
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return entry;
  }

  close(): void {
    this.queue = [];
    this.head = 0;
    this.size = 0;
    this.onReadable = undefined;
    this.detach(this);
  }
}

/** The in-process bus: one per running Eventail. */
export class TailBus implements TailFeed {
  private readonly readers = new Set<TailReader>();
  active = false;

  open(selection: TailSelection, capacity = DEFAULT_TAIL_CAPACITY): TailReader {
    const reader = new TailReader(selection, capacity, (r) => {
      this.readers.delete(r);
      this.active = this.readers.size > 0;
    });
    this.readers.add(reader);
    this.active = true;
    return reader;
  }

  /** The readers connected now (tests and diagnostics: their queues' sizes and losses). */
  connected(): readonly TailReader[] {
    return [...this.readers];
  }

  accepted(origin: TailOrigin, events: readonly CloudEvent[]): void {
    for (const reader of this.readers) {
      for (const event of events) {
        if (reader.wants(origin, event)) reader.push({ type: "cloudevent", event });
      }
    }
  }

  outcome(origin: TailOrigin, event: CloudEvent, outcome: TailOutcome): void {
    for (const reader of this.readers) {
      if (reader.wants(origin, event)) reader.push({ type: "outcome", outcome });
    }
  }
}
