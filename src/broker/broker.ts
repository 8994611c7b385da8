import { type Backing, BackingUnavailableError, brokerStream } from "../channels/backing.js";
import type { CloudEvent } from "../events/event.js";
import type { IngressTarget } from "../server/data-plane.js";
import { replyWithTtlOf, stampBrokerIngress } from "./ttl.js";

let lastMs = 0;
let lastArrival = "";

/** knativearrivaltime has millisecond precision: format it once per millisecond, not per event. */
function arrivalTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastArrival = new Date(now).toISOString();
  }
  return lastArrival;
}

/**
 * One broker: its ingress (TTL and arrival time, then an append to its backing stream). Its
 * triggers consume the same stream, each under its own consumer name.
 */
export class Broker implements IngressTarget {
  readonly stream: string;

  constructor(
    readonly namespace: string,
    readonly name: string,
    readonly backing: Backing,
    public bodyLimit: number,
  ) {
    this.stream = brokerStream(namespace, name);
  }

  /**
   * Set while some consumer of this stream is not subscribed (starting, or its engine was down
   * when it tried): events accepted now would never reach it, so ingress answers 503 instead.
   */
  hold: string | undefined = "starting";

  async ingest(events: readonly CloudEvent[]): Promise<void> {
    if (this.hold !== undefined) throw new BackingUnavailableError(this.hold, this.backing.kind);
    const arrival = arrivalTime();
    const stamped = events.map((event) => stampBrokerIngress(event, arrival));
    await this.backing.publish(this.stream, stamped);
  }

  /** A trigger's reply: same TTL as the event it answers, so ingress charges exactly one hop. */
  async ingestReply(reply: CloudEvent, original: CloudEvent): Promise<void> {
    await this.ingest([replyWithTtlOf(reply, original)]);
  }
}
