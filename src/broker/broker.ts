import { type Backing, brokerStream } from "../channels/backing.js";
import type { CloudEvent } from "../events/event.js";
import type { IngressTarget } from "../server/data-plane.js";
import { replyWithTtlOf, stampBrokerIngress } from "./ttl.js";

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

  async ingest(events: readonly CloudEvent[]): Promise<void> {
    const arrival = new Date().toISOString();
    const stamped = events.map((event) => stampBrokerIngress(event, arrival));
    await this.backing.publish(this.stream, stamped);
  }

  /** A trigger's reply: same TTL as the event it answers, so ingress charges exactly one hop. */
  async ingestReply(reply: CloudEvent, original: CloudEvent): Promise<void> {
    await this.ingest([replyWithTtlOf(reply, original)]);
  }
}
