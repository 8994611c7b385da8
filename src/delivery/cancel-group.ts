/**
 * Runs every registered cancel callback when a signal aborts, with one listener per signal.
 * Thousands of deliveries share a trigger's shutdown signal; a listener each would cost an
 * EventTarget registration per attempt and trip Node's leak warning past ten.
 */
export class CancelGroups {
  private readonly groups = new WeakMap<AbortSignal, Set<() => void>>();

  /** Registers `cancel` until the returned function is called; calls it now if already aborted. */
  watch(signal: AbortSignal, cancel: () => void): () => void {
    if (signal.aborted) {
      cancel();
      return noop;
    }
    let group = this.groups.get(signal);
    if (group === undefined) {
      const members = new Set<() => void>();
      signal.addEventListener(
        "abort",
        () => {
          for (const member of members) member();
          members.clear();
        },
        { once: true },
      );
      this.groups.set(signal, members);
      group = members;
    }
    const members = group;
    members.add(cancel);
    return () => members.delete(cancel);
  }
}

function noop(): void {}
