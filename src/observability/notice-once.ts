/**
 * What was last said about each resource, so a state that lasts across reconciles (a Trigger
 * waiting for its Broker) is logged once, and again only when it changes.
 */
export class NoticeOnce {
  private readonly said = new Map<string, string>();

  /** True when `text` is new for `key` (log it now); false when it was the last thing said. */
  first(key: string, text: string): boolean {
    if (this.said.get(key) === text) return false;
    this.said.set(key, text);
    return true;
  }

  /** The state ended (the resource started or went away): the next notice is logged again. */
  forget(key: string): void {
    this.said.delete(key);
  }

  /** Forgets every key not in `keys` (resources deleted since). */
  keepOnly(keys: ReadonlySet<string> | ReadonlyMap<string, unknown>): void {
    for (const key of this.said.keys()) if (!keys.has(key)) this.said.delete(key);
  }
}
