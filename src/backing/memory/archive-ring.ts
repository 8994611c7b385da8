import type { CloudEvent } from "../../events/event.js";
import type { ArchivedEvent } from "../backing.js";

/**
 * What a memory broker with `eventail.io/retention` keeps for replay: the last events it
 * accepted, bounded both by age (the retention) and by count, so a busy broker cannot grow the
 * process without bound. Oldest entries are overwritten first.
 */
export class ArchiveRing {
  private readonly slots: (ArchivedEvent | undefined)[];
  /** Index of the oldest entry. */
  private head = 0;
  private size = 0;

  constructor(
    public retentionMs: number,
    readonly capacity: number,
  ) {
    this.slots = new Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  append(events: readonly CloudEvent[], at: number): void {
    for (const event of events) {
      const slot = (this.head + this.size) % this.capacity;
      this.slots[slot] = { event, at };
      if (this.size < this.capacity) this.size++;
      else this.head = (this.head + 1) % this.capacity;
    }
    this.expire(at);
  }

  /** Lets go of entries older than the retention. */
  expire(now: number): void {
    const oldest = now - this.retentionMs;
    while (this.size > 0 && this.slots[this.head]!.at < oldest) {
      this.slots[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.size--;
    }
  }

  /** Entries accepted in [fromMs, toMs), oldest first, as they are now. */
  window(fromMs: number, toMs: number): ArchivedEvent[] {
    this.expire(Date.now());
    const found: ArchivedEvent[] = [];
    for (let i = 0; i < this.size; i++) {
      const entry = this.slots[(this.head + i) % this.capacity]!;
      if (entry.at >= toMs) break;
      if (entry.at >= fromMs) found.push(entry);
    }
    return found;
  }
}
