import type { CloudEvent } from "../../events/event.js";

const CHUNK_SIZE = 64;

/** `readers` counts the consumers that have not yet read past this chunk. */
interface Chunk {
  readonly events: (CloudEvent | undefined)[];
  readers: number;
}

/**
 * One stream's events, shared by all its consumers: each consumer reads by absolute index with
 * its own cursor, so a publish costs the same whether one consumer or ten thousand follow it.
 *
 * Events live in small chunks; a chunk is dropped once every consumer has read past it, so
 * memory holds only what the slowest consumer has yet to read (plus at most one chunk).
 */
export class StreamLog {
  private readonly chunks: Chunk[] = [];
  /** Absolute number of chunks[0]. */
  private firstChunk = 0;
  private next = 0;
  private readerCount = 0;

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
      chunk = { events: new Array(CHUNK_SIZE), readers: this.readerCount };
      this.chunks.push(chunk);
    }
    chunk.events[index % CHUNK_SIZE] = event;
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
    if (cursor % CHUNK_SIZE !== 0) return;
    const number = cursor / CHUNK_SIZE - 1;
    const chunk = this.chunks[number - this.firstChunk];
    if (chunk !== undefined && --chunk.readers === 0 && number === this.firstChunk) this.trim();
  }

  removeReader(cursor: number): void {
    this.readerCount--;
    const from = Math.max(0, Math.floor(cursor / CHUNK_SIZE) - this.firstChunk);
    for (let i = from; i < this.chunks.length; i++) this.chunks[i]!.readers--;
    this.trim();
  }

  /** Chunks held in memory (for tests of trimming). */
  get retainedChunks(): number {
    return this.chunks.length;
  }

  private trim(): void {
    let drop = 0;
    while (drop < this.chunks.length && this.chunks[drop]!.readers === 0) drop++;
    if (drop === 0) return;
    this.chunks.splice(0, drop);
    this.firstChunk += drop;
  }
}
