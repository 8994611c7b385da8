/** Where a signal keeps its group: a property of the signal itself, so it lives as long. */
const GROUP = Symbol("eventail.cancelGroup");

type Grouped = AbortSignal & { [GROUP]?: Set<() => void> };

/**
 * Runs every registered cancel callback when a signal aborts, with one listener per signal.
 * Thousands of deliveries share a trigger's shutdown signal; a listener each would cost an
 * EventTarget registration per attempt and trip Node's leak warning past ten. The group hangs
 * off the signal rather than a WeakMap: with ten thousand triggers, a WeakMap of their signals
 * made every garbage collection walk an ephemeron table of ten thousand entries.
 */
export class CancelGroups {
  /** Registers `cancel` until the returned function is called; calls it now if already aborted. */
  watch(signal: AbortSignal, cancel: () => void): () => void {
    if (signal.aborted) {
      cancel();
      return noop;
    }
    const grouped = signal as Grouped;
    let members = grouped[GROUP];
    if (members === undefined) {
      const group = new Set<() => void>();
      signal.addEventListener(
        "abort",
        () => {
          for (const member of group) member();
          group.clear();
        },
        { once: true },
      );
      grouped[GROUP] = group;
      members = group;
    }
    const group = members;
    group.add(cancel);
    return () => group.delete(cancel);
  }
}

function noop(): void {}
