/**
 * Requests encoded for recent events. A broker hands the same event object to each of its
 * triggers, so a fan-out to ten triggers would encode the same headers ten times; this keeps
 * them for reuse. Two generations of `size` entries each: a
 * lookup needs no eviction order, and an old entry is gone after 2 × size newer ones.
 */
export class RecentRequests<K extends object, V> {
  private current = new Map<K, V>();
  private previous = new Map<K, V>();

  constructor(private readonly size: number) {}

  get(key: K): V | undefined {
    return this.current.get(key) ?? this.previous.get(key);
  }

  set(key: K, value: V): void {
    if (this.current.size >= this.size) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(key, value);
  }
}
