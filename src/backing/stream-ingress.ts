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

  async ingest(events: readonly CloudEvent[]): Promise<void> {
    if (this.hold !== undefined) throw new BackingUnavailableError(this.hold, this.backing.kind);
    const stored = this.prepare(events);
    if (this.journeys === undefined) await this.backing.publish(this.stream, stored);
    else await this.publishJourneys(this.journeys, stored);
    const tail = this.tail;
    if (tail?.active) {
      tail.accepted({ namespace: this.namespace, kind: this.tailKind, name: this.name }, stored);
    }
  }

  private async publishJourneys(
    journeys: JourneyRecorder,
    stored: readonly CloudEvent[],
  ): Promise<void> {
    // A memory backing may hand the events to its triggers before publish returns, and their
    // reports need the acceptance first; a durable one is told only once the engine has them.
    const early = this.backing.journeys === undefined;
    if (early) journeys.accepted(this.backing, this.stream, stored);
    try {
      await this.backing.publish(this.stream, stored);
    } catch (error) {
      if (early) journeys.withdrawn(this.backing, this.stream, stored);
      throw error;
    }
    if (!early) journeys.accepted(this.backing, this.stream, stored);
  }

  /** The events as stored; unchanged here. */
  protected prepare(events: readonly CloudEvent[]): readonly CloudEvent[] {
    return events;
  }
}
