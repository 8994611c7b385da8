/**
 * An ingress target that appends to one backing stream (a broker's or a channel's), held closed
 * until every consumer of the stream is subscribed. Subclasses prepare the events on the way in
 * (the broker stamps TTL and arrival time).
 */
import type { CloudEvent } from "../events/event.js";
import type { IngressTarget } from "../events/ingress-target.js";
import { type Backing, BackingUnavailableError } from "./backing.js";
import type { JourneyRecorder } from "./journey.js";
import type { TailFeed } from "./tail-feed.js";

export class StreamIngress implements IngressTarget {
  constructor(
    readonly namespace: string,
    readonly name: string,
    readonly backing: Backing,
    public bodyLimit: number,
    readonly stream: string,
    private readonly journeys?: JourneyRecorder,
    /** The live tail (CONTRACT §11), told of every event once the backing has it. */
    private readonly tail?: TailFeed,
  ) {
    journeys?.attach(backing);
  }

  /** What the tail calls this ingress. */
  protected readonly tailKind: "broker" | "channel" = "channel";

  /**
   * Set while some consumer of this stream is not subscribed (starting, or its engine was down
   * when it tried): events accepted now would never reach it, so ingress answers 503 instead.
   */
  hold: string | undefined = "starting";

  /**
   * Not async, and no await per layer: an ingest is one or two promises on the hot path, not a
   * frame and a microtask hop for each of ingest, the journeys step and the publish. Never throws;
   * every failure is a rejection.
   */
  ingest(events: readonly CloudEvent[]): Promise<void> {
    if (this.hold !== undefined) {
      return Promise.reject(new BackingUnavailableError(this.hold, this.backing.kind));
    }
    let stored: readonly CloudEvent[];
    let published: Promise<void>;
    try {
      stored = this.prepare(events);
      published =
        this.journeys === undefined
          ? this.backing.publish(this.stream, stored)
          : this.publishJourneys(this.journeys, stored);
    } catch (error) {
      return Promise.reject(error);
    }
    // A tail that opens while this publish is in flight starts with the next event.
    const tail = this.tail;
    if (tail === undefined || !tail.active) return published;
    return published.then(() => {
      if (tail.active) {
        tail.accepted({ namespace: this.namespace, kind: this.tailKind, name: this.name }, stored);
      }
    });
  }

  private publishJourneys(journeys: JourneyRecorder, stored: readonly CloudEvent[]): Promise<void> {
    // A memory backing may hand the events to its triggers before publish returns, and their
    // reports need the acceptance first; a durable one is told only once the engine has them.
    if (this.backing.journeys !== undefined) {
      return this.backing
        .publish(this.stream, stored)
        .then(() => journeys.accepted(this.backing, this.stream, stored));
    }
    journeys.accepted(this.backing, this.stream, stored);
    const withdraw = (error: unknown): never => {
      journeys.withdrawn(this.backing, this.stream, stored);
      throw error;
    };
    try {
      return this.backing.publish(this.stream, stored).then(undefined, withdraw);
    } catch (error) {
      return withdraw(error);
    }
  }

  /** The events as stored; unchanged here. */
  protected prepare(events: readonly CloudEvent[]): readonly CloudEvent[] {
    return events;
  }
}
