import type { WatchCancel } from "./attempt.js";

/** One registered cancel callback, linked into its group's list. */
class Member {
  prev: Member | undefined = undefined;
  next: Member | undefined = undefined;
  constructor(readonly cancel: () => void) {}
}

function noop(): void {}

/**
 * The cancel callbacks of everything in flight under one signal, run once when it aborts or when
 * the parent group fires (the dispatcher closing). Thousands of deliveries share a trigger's
 * shutdown signal: a listener each would cost an EventTarget registration per attempt and trip
 * Node's leak warning past ten, so the signal gets one listener and the callbacks wait in a
 * linked list. Not a Set: with ten thousand triggers each group goes from empty to one entry and
 * back on every event, and a Set reallocates its table each time it shrinks. A group sits in its parent's list only while it has members,
 * so a trigger that is gone leaves nothing behind.
 */
export class CancelGroup {
  private head: Member | undefined;
  private fired = false;
  /** Removes this group from its parent's list (set while it has members). */
  private leaveParent: (() => void) | undefined;

  constructor(private readonly parent?: CancelGroup) {}

  /** Registers `cancel` until the returned function is called; calls it now if already fired. */
  readonly watch: WatchCancel = (cancel) => {
    if (this.fired) {
      cancel();
      return noop;
    }
    const member = new Member(cancel);
    if (this.head === undefined) {
      if (this.parent !== undefined) {
        this.leaveParent = this.parent.watch(this.fire);
        if (this.fired) {
          // The parent had fired already: fire() ran and cancelled nothing yet registered.
          cancel();
          return noop;
        }
      }
    } else this.head.prev = member;
    member.next = this.head;
    this.head = member;
    return () => this.remove(member);
  };

  /** Runs every registered callback once; later registrations are cancelled at once. */
  readonly fire = (): void => {
    if (this.fired) return;
    this.fired = true;
    this.leaveParent?.();
    this.leaveParent = undefined;
    let member = this.head;
    this.head = undefined;
    while (member !== undefined) {
      const next = member.next;
      member.prev = undefined;
      member.next = undefined;
      member.cancel();
      member = next;
    }
  };

  private remove(member: Member): void {
    if (this.fired) return;
    if (member.prev !== undefined) member.prev.next = member.next;
    else if (this.head === member) this.head = member.next;
    else return; // already removed
    if (member.next !== undefined) member.next.prev = member.prev;
    member.prev = undefined;
    member.next = undefined;
    if (this.head === undefined) {
      this.leaveParent?.();
      this.leaveParent = undefined;
    }
  }
}

/**
 * One CancelGroup per signal, under a root group that fires on its own (the dispatcher's close).
 * The group hangs off the signal, under a key of this instance, rather than in a WeakMap: with
 * ten thousand triggers, a WeakMap of their signals made every garbage collection walk an
 * ephemeron table of ten thousand entries.
 */
export class CancelGroups {
  readonly root = new CancelGroup();
  private readonly key = Symbol("eventail.cancelGroup");

  /** The group cancelled when `signal` aborts or the root fires. */
  of(signal: AbortSignal): CancelGroup {
    const holder = signal as AbortSignal & Record<symbol, CancelGroup | undefined>;
    let group = holder[this.key];
    if (group === undefined) {
      const created = new CancelGroup(this.root);
      if (signal.aborted) created.fire();
      else signal.addEventListener("abort", created.fire, { once: true });
      holder[this.key] = created;
      group = created;
    }
    return group;
  }
}
