/**
 * Decides when each received event runs. Every event belongs to a lane; a lane runs one event at a
 * time, in arrival order, and at most `concurrency` lanes run at once. Ordered consumers use the
 * partition key as the lane; unordered consumers give every event a lane of its own.
 */
export class DeliveryLanes<T> {
  /** Waiting items per lane; a lane stays here while it runs or has items waiting. */
  readonly #lanes = new Map<string, T[]>();
  /** Lanes with waiting items that are not running, oldest first. */
  readonly #ready: string[] = [];
  #running = 0;
  #held = 0;
  readonly #listeners = new Set<() => void>();

  constructor(
    private readonly concurrency: number,
    private readonly run: (item: T) => Promise<void>,
  ) {}

  /** Items taken and not yet finished, running or waiting. */
  get held(): number {
    return this.#held;
  }

  push(lane: string, item: T): void {
    this.#held++;
    const waiting = this.#lanes.get(lane);
    if (waiting) {
      waiting.push(item);
    } else {
      this.#lanes.set(lane, [item]);
      this.#ready.push(lane);
    }
    this.#pump();
  }

  /** Items waiting for their lane or for a free slot (not running). */
  waiting(): T[] {
    return [...this.#lanes.values()].flat();
  }

  /** Removes every waiting item and returns them; running ones are untouched. */
  takeWaiting(): T[] {
    const taken: T[] = [];
    for (const [lane, waiting] of this.#lanes) {
      taken.push(...waiting.splice(0));
      if (!this.#ready.includes(lane)) continue;
      this.#lanes.delete(lane);
    }
    this.#ready.length = 0;
    this.#held -= taken.length;
    this.#notify();
    return taken;
  }

  /** Resolves once fewer than `capacity` items are held, or when `signal` aborts. */
  whenBelow(capacity: number, signal?: AbortSignal): Promise<void> {
    return this.#until(() => this.#held < capacity, signal);
  }

  /** Resolves once nothing is held, or when `signal` aborts. */
  whenIdle(signal?: AbortSignal): Promise<void> {
    return this.#until(() => this.#held === 0, signal);
  }

  #pump(): void {
    while (this.#running < this.concurrency && this.#ready.length > 0) {
      const lane = this.#ready.shift()!;
      const waiting = this.#lanes.get(lane)!;
      const item = waiting.shift()!;
      this.#running++;
      void this.run(item)
        .catch(() => undefined)
        .finally(() => {
          this.#running--;
          this.#held--;
          if (waiting.length > 0) this.#ready.push(lane);
          else if (this.#lanes.get(lane) === waiting) this.#lanes.delete(lane);
          this.#pump();
          this.#notify();
        });
    }
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  #until(condition: () => boolean, signal?: AbortSignal): Promise<void> {
    if (condition() || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!condition() && !signal?.aborted) return;
        this.#listeners.delete(check);
        signal?.removeEventListener("abort", check);
        resolve();
      };
      this.#listeners.add(check);
      signal?.addEventListener("abort", check, { once: true });
    });
  }
}
