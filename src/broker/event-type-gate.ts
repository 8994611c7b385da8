/**
 * What a broker's ingress asks of the EventType registry (CONTRACT §11): whether events match
 * their type's declared schema (before they are stored), and what was stored (for EventTypes
 * created on first sight). The registry lives in operations/; this interface lives here so the
 * broker sees it without importing upwards.
 */
import type { Backing } from "../backing/backing.js";
import type { CloudEvent } from "../events/event.js";

export interface EventTypeGate {
  /** A broker on `backing` reports from now on (lets the registry read that engine's store). */
  attach(backing: Backing): void;
  /** Throws SchemaMismatchError for the first event whose data its type's declared schema refuses. */
  check(namespace: string, broker: string, events: readonly CloudEvent[]): void;
  /** `events` were stored on `backing`. Never throws and never waits on an engine. */
  seen(backing: Backing, namespace: string, broker: string, events: readonly CloudEvent[]): void;
}

/** An event's data does not match the schema declared for its type; `pointer` names where. */
export class SchemaMismatchError extends Error {
  constructor(
    message: string,
    /** JSON pointer (RFC 6901) into `data` of the first failure; "" for the whole of it. */
    readonly pointer: string,
  ) {
    super(message);
    this.name = "SchemaMismatchError";
  }
}
