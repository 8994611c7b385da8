/**
 * Collects items added during one turn of the event loop and sends them in one command
 * (XACK with many ids, one touch script for many keepAlives) instead of one round trip each.
 */
export class TickBatch<T> {
  private items: T[] = [];
  private scheduled = false;
  private readonly sending = new Set<Promise<void>>();

  constructor(
    /** Sends one batch; must not reject (it logs its own failures). */
    private readonly send: (items: T[]) => Promise<void>,
    private readonly maxItems = 1_000,
  ) {}

  add(item: T): void {
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  /** Sends what is collected now and waits for every batch still on its way. */
  async flush(): Promise<void> {
    this.drain();
    await Promise.all(this.sending);
  }

  private drain(): void {
    this.scheduled = false;
    while (this.items.length > 0) {
      const chunk = this.items.splice(0, this.maxItems);
      const sent: Promise<void> = this.send(chunk).finally(() => this.sending.delete(sent));
      this.sending.add(sent);
    }
  }
}
