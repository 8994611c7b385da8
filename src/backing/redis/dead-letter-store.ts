/**
 * The dead-letter store on Redis (CONTRACT §11): one stream per namespace,
 * `eventail:deadletters:<namespace>`, shared by every process using the engine. An entry is one
 * stream entry (its id is the entryId) with two fields: `m`, the error context as JSON, and `e`,
 * the event in the storage form (attributes plus base64 data), so binary or large data round-trips
 * exactly. XADD and XTRIM go in one transaction: the store never holds more than its bound, and the
 * number XTRIM removed is what was pushed out. Unlike journeys, writes are awaited: the event is
 * acknowledged on its broker's stream only once its dead letter is stored.
 */
import type { Redis } from "ioredis";
import { decodeFromStorage, encodeForStorage } from "../../events/json-format.js";
import type { DeadLetterEntry, DeadLetterRecord, DeadLetterStore } from "../dead-letter.js";
import { withDeadline } from "./connection.js";

export function deadLetterKey(namespace: string): string {
  return `eventail:deadletters:${namespace}`;
}

type Meta = Omit<DeadLetterRecord, "event">;

export class RedisDeadLetterStore implements DeadLetterStore {
  constructor(
    private readonly commands: Redis,
    private readonly timeoutMs: number,
  ) {}

  async add(namespace: string, record: DeadLetterRecord, maxEntries: number): Promise<number> {
    const { event, ...meta } = record;
    const key = deadLetterKey(namespace);
    const results = await withDeadline(
      this.commands
        .multi()
        .xadd(key, "*", "m", JSON.stringify(meta), "e", encodeForStorage(event))
        .xtrim(key, "MAXLEN", maxEntries)
        .exec(),
      this.timeoutMs,
      `storing a dead letter in ${key}`,
    );
    for (const [error] of results ?? []) if (error) throw error;
    return Number(results?.[1]?.[1] ?? 0);
  }

  async list(
    namespace: string,
    after: string | undefined,
    count: number,
  ): Promise<DeadLetterEntry[]> {
    const key = deadLetterKey(namespace);
    const rows = await withDeadline(
      this.commands.xrange(key, after === undefined ? "-" : `(${after}`, "+", "COUNT", count),
      this.timeoutMs,
      `reading ${key}`,
    );
    const entries: DeadLetterEntry[] = [];
    for (const [entryId, fields] of rows) {
      const entry = parseEntry(entryId, fields);
      if (entry !== undefined) entries.push(entry);
    }
    return entries;
  }

  async remove(namespace: string, entryId: string): Promise<boolean> {
    const key = deadLetterKey(namespace);
    const removed = await withDeadline(
      this.commands.xdel(key, entryId),
      this.timeoutMs,
      `removing a dead letter from ${key}`,
    );
    return removed > 0;
  }
}

/** An entry as stored, or undefined for one that is not ours (skipped, not fatal to a listing). */
function parseEntry(entryId: string, fields: string[]): DeadLetterEntry | undefined {
  let meta: string | undefined;
  let event: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === "m") meta = fields[i + 1];
    else if (fields[i] === "e") event = fields[i + 1];
  }
  if (meta === undefined || event === undefined) return undefined;
  try {
    return { ...(JSON.parse(meta) as Meta), event: decodeFromStorage(event), entryId };
  } catch {
    return undefined;
  }
}
