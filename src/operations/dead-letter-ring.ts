/**
 * The dead-letter store of events on a memory backing: per namespace, the last `maxEntries`
 * entries in arrival order. Entry ids are `<epoch ms>-<sequence>`, ordered like Redis stream ids.
 */
import type { DeadLetterEntry, DeadLetterRecord, DeadLetterStore } from "../backing/dead-letter.js";

export class DeadLetterRing implements DeadLetterStore {
  private readonly namespaces = new Map<string, Map<string, DeadLetterEntry>>();
  private sequence = 0;

  async add(namespace: string, record: DeadLetterRecord, maxEntries: number): Promise<number> {
    let entries = this.namespaces.get(namespace);
    if (entries === undefined) {
      entries = new Map();
      this.namespaces.set(namespace, entries);
    }
    const entryId = `${record.at}-${this.sequence++}`;
    entries.set(entryId, { ...record, entryId });
    let pushedOut = 0;
    // A Map iterates in insertion order: the first key is the oldest entry.
    for (const oldest of entries.keys()) {
      if (entries.size <= maxEntries) break;
      entries.delete(oldest);
      pushedOut++;
    }
    return pushedOut;
  }

  async list(
    namespace: string,
    after: string | undefined,
    count: number,
  ): Promise<DeadLetterEntry[]> {
    const entries = this.namespaces.get(namespace);
    if (entries === undefined) return [];
    const page: DeadLetterEntry[] = [];
    let started = after === undefined;
    for (const [entryId, entry] of entries) {
      if (!started) {
        // `after` may have been removed meanwhile: anything newer comes after it.
        started = entryId === after || newer(entryId, after!);
        if (entryId === after) continue;
        if (!started) continue;
      }
      page.push(entry);
      if (page.length >= count) break;
    }
    return page;
  }

  async remove(namespace: string, entryId: string): Promise<boolean> {
    const entries = this.namespaces.get(namespace);
    const removed = entries?.delete(entryId) ?? false;
    if (entries?.size === 0) this.namespaces.delete(namespace);
    return removed;
  }
}

/** Whether id `a` sorts after id `b` (both `<ms>-<seq>`). */
function newer(a: string, b: string): boolean {
  const [aMs, aSeq] = a.split("-").map(Number) as [number, number];
  const [bMs, bSeq] = b.split("-").map(Number) as [number, number];
  return aMs > bMs || (aMs === bMs && aSeq > bSeq);
}
