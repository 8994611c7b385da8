import { type Backing, BackingUnavailableError, brokerStream } from "../backing/backing.js";
import type { CloudEvent } from "../events/event.js";
import type { IngressTarget } from "../events/ingress-target.js";
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
