/**
 * The dead-letter store (CONTRACT §4 "nothing is dropped silently", §11): events whose attempts
 * ran out with no dead-letter sink, or whose dead-letter sink failed too, kept per namespace with
 * the error context until someone redrives them. Like journey.ts, this lives below broker/ and
 * operations/ so every one of them may see it without a cycle.
 */
import type { CloudEvent } from "../events/event.js";
import type { Backing } from "./backing.js";

/** One event given up on, and why. */
export interface DeadLetterRecord {
  readonly event: CloudEvent;
  readonly kind: "Trigger" | "Subscription";
  readonly name: string;
  /** The URL that failed. */
  readonly knativeerrordest: string;
  /** The last HTTP status; absent when no response came back. */
  readonly knativeerrorcode?: string;
  /** Base64 of the first 1024 bytes of the last response body; absent when it was empty. */
  readonly knativeerrordata?: string;
  readonly attempts: number;
  /** Epoch milliseconds it was given up on. */
  readonly at: number;
  /** Why no usable answer came back (connection error, timeout), or the dead-letter sink's failure. */
  readonly error?: string;
  /**
   * "reply" only in entries kept by earlier versions, which kept a Subscription's failed reply
   * itself (a redrive delivers it to `spec.reply` again). A reply that fails now is kept as the
   * event its subscriber got, with `knativeerrordest` the reply URL and no `step`.
   */
  readonly step?: "reply";
}

export interface DeadLetterEntry extends DeadLetterRecord {
  /** Unique within the namespace's store; entries list in ascending order of it. */
  readonly entryId: string;
}

/**
 * Where one engine keeps dead letters. Entries are removed only by `remove`, after a redrive
 * delivered them: a redrive cut short by a crash leaves the rest in place.
 */
export interface DeadLetterStore {
  /**
   * Resolves once the entry is stored (durable: the engine has it); keeps at most `maxEntries`
   * for the namespace and resolves to how many of the oldest were pushed out to make room.
   */
  add(namespace: string, record: DeadLetterRecord, maxEntries: number): Promise<number>;
  /** Up to `count` entries after `after` (exclusive; from the first when undefined), oldest first. */
  list(namespace: string, after: string | undefined, count: number): Promise<DeadLetterEntry[]>;
  /** Resolves to false when there was no such entry (already redriven elsewhere). */
  remove(namespace: string, entryId: string): Promise<boolean>;
}

/** What trigger runtimes hand their given-up events to. */
export interface DeadLetterKeeper {
  /** A backing whose store answers listings from now on. */
  attach(backing: Backing): void;
  /** Stores the record (on the backing's engine when it has a store); rejects when it could not. */
  keep(backing: Backing, namespace: string, record: DeadLetterRecord): Promise<void>;
}

/** The journey `sink` of an event kept in the store (CONTRACT §11). */
export const DEAD_LETTER_STORE_SINK = "eventail:store";
