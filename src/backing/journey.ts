/**
 * Journeys (CONTRACT §11): what runtimes report about each accepted event, and the optional
 * capability of a durable backing to keep those reports on its engine. The recorder interface lives
 * here, below broker/, channels/ and operations/, so every one of them may see it without a cycle.
 */
import type { CloudEvent } from "../events/event.js";
import type { Backing } from "./backing.js";

export type RouteOutcome =
  | "filtered-out"
  | "pending"
  | "delivered"
  | "replied"
  | "dead-lettered"
  | "dropped";

/** One HTTP attempt at the subscriber: `status` when it answered, else `error`. */
export interface AttemptRecord {
  /** Epoch milliseconds the attempt started. */
  readonly at: number;
  readonly status?: number;
  readonly error?: string;
  readonly durationMs: number;
}

export interface RouteRecord {
  readonly kind: "Trigger" | "Subscription";
  readonly name: string;
  readonly outcome: RouteOutcome;
  readonly attempts?: readonly AttemptRecord[];
  readonly replyId?: string;
  readonly sink?: string;
  readonly reason?: string;
}

/** The acceptance of one event, as stored; `stream` names the address it came in at. */
export interface AcceptedRecord {
  readonly at: number;
  readonly stream: string;
  readonly size: number;
  readonly type: string;
  readonly traceparent?: string;
}

/** Everything stored about one (namespace, id, source). */
export interface StoredJourney {
  readonly source: string;
  readonly accepted?: AcceptedRecord;
  readonly routes: readonly RouteRecord[];
}

/**
 * A durable backing's store of journeys. Writes are fire-and-forget (batched by the engine's
 * implementation): a journey is a diagnostic and must never slow or fail the data path.
 */
export interface JourneyStore {
  writeAccepted(
    namespace: string,
    id: string,
    source: string,
    record: AcceptedRecord,
    retentionMs: number,
  ): void;
  writeRoute(
    namespace: string,
    id: string,
    source: string,
    route: RouteRecord,
    retentionMs: number,
  ): void;
  /** Every source stored under (namespace, id). */
  read(namespace: string, id: string): Promise<StoredJourney[]>;
}

/** What ingress and the trigger and subscription runtimes report to. */
export interface JourneyRecorder {
  /** A broker or channel whose events are reported from now on (lets its engine's store answer). */
  attach(backing: Backing): void;
  /** `events` were stored on `stream` of `backing` (the backing acknowledged them). */
  accepted(backing: Backing, stream: string, events: readonly CloudEvent[]): void;
  /** `events` reported as accepted were refused after all (the publish failed). */
  withdrawn(backing: Backing, stream: string, events: readonly CloudEvent[]): void;
  /** What became of `event`, taken from `stream`, for one trigger or subscription. */
  routed(backing: Backing, stream: string, event: CloudEvent, route: RouteRecord): void;
}
