import { type Backing, brokerStream } from "../backing/backing.js";
import type { JourneyRecorder } from "../backing/journey.js";
import { StreamIngress } from "../backing/stream-ingress.js";
import type { TailFeed } from "../backing/tail-feed.js";
import type { CloudEvent } from "../events/event.js";
import { traceIngress } from "../observability/ingress-spans.js";
import { activeTracing } from "../observability/tracing.js";
import type { EventTypeGate } from "./event-type-gate.js";
import { replyWithTtlOf, stampBrokerIngress } from "./ttl.js";

let lastMs = 0;
let lastArrival = "";
let secondStart = Number.NaN;
/** `YYYY-MM-DDTHH:MM:SS.` of the current second. */
let secondPrefix = "";

/**
 * knativearrivaltime has millisecond precision: formatted once per millisecond, and by
 * toISOString (over a microsecond) only once per second; the milliseconds are appended.
 */
export function arrivalTime(now = Date.now()): string {
  if (now !== lastMs) {
    lastMs = now;
    const ms = now % 1000;
    if (now - ms !== secondStart) {
      secondStart = now - ms;
      secondPrefix = new Date(secondStart).toISOString().slice(0, 20);
    }
    lastArrival = `${secondPrefix}${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}Z`;
  }
  return lastArrival;
}

/**
 * One broker: its ingress (TTL and arrival time, then an append to its backing stream). Its
 * triggers consume the same stream, each under its own consumer name.
 */
export class Broker extends StreamIngress {
  constructor(
    namespace: string,
    name: string,
    backing: Backing,
    bodyLimit: number,
    journeys?: JourneyRecorder,
    tail?: TailFeed,
    /** The EventType registry (CONTRACT §11): schema check before storing, counts after. */
    private readonly eventTypes?: EventTypeGate,
  ) {
    super(namespace, name, backing, bodyLimit, brokerStream(namespace, name), journeys, tail);
    eventTypes?.attach(backing);
  }

  override ingest(events: readonly CloudEvent[]): Promise<void> {
    // Without an EventType registry, no async frame of its own: one promise less per request.
    const eventTypes = this.eventTypes;
    if (eventTypes === undefined) return super.ingest(events);
    return this.ingestChecked(eventTypes, events);
  }

  private async ingestChecked(
    eventTypes: EventTypeGate,
    events: readonly CloudEvent[],
  ): Promise<void> {
    eventTypes.check(this.namespace, this.name, events);
    await super.ingest(events);
    eventTypes.seen(this.backing, this.namespace, this.name, events);
  }

  /** A reply is counted like any event but not checked: its sender cannot be answered 400. */
  private async store(events: readonly CloudEvent[]): Promise<void> {
    await super.ingest(events);
    this.eventTypes?.seen(this.backing, this.namespace, this.name, events);
  }

  protected override readonly tailKind = "broker";

  protected override prepare(events: readonly CloudEvent[]): readonly CloudEvent[] {
    const arrival = arrivalTime();
    return events.map((event) => stampBrokerIngress(event, arrival));
  }

  /** A trigger's reply: same TTL as the event it answers, so ingress charges exactly one hop. */
  async ingestReply(reply: CloudEvent, original: CloudEvent): Promise<void> {
    const events = [replyWithTtlOf(reply, original)];
    const tracing = activeTracing();
    if (tracing === undefined) return this.store(events);
    // The reply carries its delivery attempt's traceparent (the Dispatcher sees to it).
    const traced = traceIngress(tracing, events, {
      namespace: this.namespace,
      name: this.name,
      reply: true,
    });
    try {
      await this.store(traced.events);
      traced.end();
    } catch (error) {
      traced.end({ error: error instanceof Error ? error.message : String(error) });
      throw error;
    }
  }
}
