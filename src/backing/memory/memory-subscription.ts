import type { CloudEvent } from "../../events/event.js";
import type { ConsumeHandler, Subscription } from "../backing.js";
import { Delivery, type Lane, metaFor } from "./delivery.js";

/** What a subscription needs from the consumer group it belongs to. */
export interface DeliveryOwner {
  /** A handler finished: `ok` is the ack, otherwise the event is redelivered. */
  settle(delivery: Delivery, ok: boolean): void;
  /** The subscription is gone; `unfinished` handlers were abandoned and need redelivery. */
  detach(subscription: MemorySubscription, unfinished: Delivery[]): void;
}

/**
 * One subscribe() call: a member of its consumer group with its own in-flight bound. Handlers run
 * as soon as they are handed an event; their promise resolving is the ack.
 */
export class MemorySubscription implements Subscription {
  private head: Delivery | undefined;
  private inFlight = 0;
  private closing: Promise<void> | undefined;
  private drained: (() => void) | undefined;

  constructor(
    private readonly owner: DeliveryOwner,
    private readonly handler: ConsumeHandler,
    private readonly concurrency: number,
    private readonly defaultGraceMs: number,
  ) {}

  canTake(): boolean {
    return this.closing === undefined && this.inFlight < this.concurrency;
  }

  get running(): number {
    return this.inFlight;
  }

  deliver(event: CloudEvent, deliveryCount: number, lane: Lane | undefined): void {
    const delivery = new Delivery(event, deliveryCount, lane);
    delivery.next = this.head;
    if (this.head !== undefined) this.head.prev = delivery;
    this.head = delivery;
    this.inFlight++;
    void this.run(delivery);
  }

  private async run(delivery: Delivery): Promise<void> {
    let ok = true;
    try {
      await this.handler(delivery.event, metaFor(delivery.deliveryCount));
    } catch {
      ok = false;
    }
    if (delivery.abandoned) return;
    this.unlink(delivery);
    this.owner.settle(delivery, ok);
    if (this.inFlight === 0) this.drained?.();
  }

  private unlink(delivery: Delivery): void {
    if (delivery.prev !== undefined) delivery.prev.next = delivery.next;
    else this.head = delivery.next;
    if (delivery.next !== undefined) delivery.next.prev = delivery.prev;
    delivery.prev = undefined;
    delivery.next = undefined;
    this.inFlight--;
  }

  close(graceMs: number = this.defaultGraceMs): Promise<void> {
    this.closing ??= this.drain(graceMs);
    return this.closing;
  }

  private async drain(graceMs: number): Promise<void> {
    if (this.inFlight > 0 && graceMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        timer = setTimeout(resolve, graceMs);
      });
      clearTimeout(timer);
      this.drained = undefined;
    }
    const unfinished: Delivery[] = [];
    for (let d = this.head; d !== undefined; d = d.next) {
      d.abandoned = true;
      unfinished.push(d);
    }
    this.head = undefined;
    this.inFlight = 0;
    this.owner.detach(this, unfinished.reverse());
  }
}
