import type { CloudEvent } from "../../events/event.js";

const CHUNK_SIZE = 64;

/** Events held in memory across the logs of one stream: the memory backing's cap counts them. */
export interface HeldEvents {
  count: number;
}

/** `readers` counts the consumers that have not yet read past this chunk. */
interface Chunk {
  readonly events: (CloudEvent | undefined)[];
  /** Per slot, the readers that have yet to read it: at 0 the event is let go. */
  readonly unread: Uint32Array;
  readers: number;
}

/**
 * One stream's events, shared by all its consumers: each consumer reads by absolute index with
 * its own cursor, so a publish costs the same whether one consumer or ten thousand follow it.
 *
 * Events live in small chunks; an event is let go once every consumer has read it, and a chunk
 * once every consumer has read past it, so memory holds only what the slowest consumer has yet
 * to read. (Holding a chunk's events until the chunk is done would keep up to 63 delivered
 * events per feed: with a feed per trigger type, gigabytes for large events.)
 */
export class StreamLog {
  private readonly chunks: Chunk[] = [];
  /** Absolute number of chunks[0]. */
  private firstChunk = 0;
  private next = 0;
  private readerCount = 0;

  constructor(private readonly held: HeldEvents = { count: 0 }) {}

  /** The index the next published event gets. */
  get tail(): number {
    return this.next;
  }

  get readers(): number {
    return this.readerCount;
  }

  append(event: CloudEvent): void {
    const index = this.next++;
    if (this.readerCount === 0) return; // nobody follows the stream: nothing to keep
    const number = Math.floor(index / CHUNK_SIZE);
    let chunk = this.chunks[number - this.firstChunk];
    if (chunk === undefined) {
      if (this.chunks.length === 0) this.firstChunk = number;
      chunk = {
        events: new Array(CHUNK_SIZE),
        unread: new Uint32Array(CHUNK_SIZE),
        readers: this.readerCount,
      };
      this.chunks.push(chunk);
    }
    chunk.events[index % CHUNK_SIZE] = event;
    chunk.unread[index % CHUNK_SIZE] = this.readerCount;
    this.held.count++;
  }

  /** The event at `index`; only valid for tail > index >= a live reader's cursor. */
  at(index: number): CloudEvent {
    const chunk = this.chunks[Math.floor(index / CHUNK_SIZE) - this.firstChunk]!;
    return chunk.events[index % CHUNK_SIZE]!;
  }

  /** Registers a reader; it starts at the tail and gets the returned cursor. */
  addReader(): number {
    this.readerCount++;
    const chunk = this.chunks[Math.floor(this.next / CHUNK_SIZE) - this.firstChunk];
    if (chunk !== undefined) chunk.readers++;
    return this.next;
  }

  /** Call after a reader's cursor moved from `cursor - 1` to `cursor`. */
  advanced(cursor: number): void {
    this.readBy(cursor - 1);
    if (cursor % CHUNK_SIZE !== 0) return;
    const number = cursor / CHUNK_SIZE - 1;
    const chunk = this.chunks[number - this.firstChunk];
    if (chunk !== undefined && --chunk.readers === 0 && number === this.firstChunk) this.trim();
  }

  removeReader(cursor: number): void {
    // The events it had yet to read no longer wait for it.
    for (let index = cursor; index < this.next; index++) this.readBy(index);
    this.readerCount--;
    const from = Math.max(0, Math.floor(cursor / CHUNK_SIZE) - this.firstChunk);
    for (let i = from; i < this.chunks.length; i++) this.chunks[i]!.readers--;
    this.trim();
  }

  /** Chunks held in memory (for tests of trimming). */
  get retainedChunks(): number {
    return this.chunks.length;
  }

  /** Events held in memory (for tests of releasing). */
  get retainedEvents(): number {
    let count = 0;
    for (const chunk of this.chunks) {
      for (const event of chunk.events) if (event !== undefined) count++;
    }
    return count;
  }

  /** One reader is done with the event at `index`. */
  private readBy(index: number): void {
    const chunk = this.chunks[Math.floor(index / CHUNK_SIZE) - this.firstChunk];
    if (chunk === undefined) return;
    const slot = index % CHUNK_SIZE;
    if (chunk.unread[slot] === 0) return;
    if (--chunk.unread[slot]! === 0) {
      chunk.events[slot] = undefined;
      this.held.count--;
    }
  }

  private trim(): void {
    let drop = 0;
    while (drop < this.chunks.length && this.chunks[drop]!.readers === 0) drop++;
    if (drop === 0) return;
    this.chunks.splice(0, drop);
    this.firstChunk += drop;
  }
}
