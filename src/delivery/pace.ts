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
