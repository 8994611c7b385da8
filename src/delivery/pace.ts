/**
 * `eventail.io/delivery.rate` (CONTRACT §4): at most `perSecond` attempts to one subscriber,
 * retries included. Each attempt takes the next free slot, 1/perSecond after the previous one, so
 * the subscriber sees an even stream rather than bursts; waiting for a slot holds only this
 * trigger's deliveries, never another trigger's.
 */
export class DeliveryPace {
  private next = 0;
  private readonly intervalMs: number;

  constructor(
    readonly perSecond: number,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.intervalMs = 1000 / perSecond;
  }

  /** Reserves the next slot: how long the attempt must wait for it, in ms (0: go now). */
  reserve(): number {
    const now = this.now();
    const slot = Math.max(now, this.next);
    this.next = slot + this.intervalMs;
    return slot - now;
  }
}

/**
 * The paces of the consumers with a rate, kept across reconciles. Every reconcile builds each
 * consumer's delivery anew; a fresh pace would start from now while the deliveries already
 * started still hold slots reserved on the old one, and the subscriber would get up to twice
 * the rate until those ran out. So a consumer keeps its pace until its rate changes.
 */
export class DeliveryPaces {
  private readonly paces = new Map<string, DeliveryPace>();

  /** The pace of `consumer` (e.g. `Trigger/ns/name`) at `perSecond`. */
  of(consumer: string, perSecond: number): DeliveryPace {
    const held = this.paces.get(consumer);
    if (held?.perSecond === perSecond) return held;
    const pace = new DeliveryPace(perSecond);
    this.paces.set(consumer, pace);
    return pace;
  }

  /** Forgets the paces of consumers that are no longer among `consumers`. */
  keepOnly(consumers: ReadonlySet<string>): void {
    for (const consumer of this.paces.keys()) {
      if (!consumers.has(consumer)) this.paces.delete(consumer);
    }
  }
}
