import type { WatchCancel } from "./attempt.js";

interface Waiter {
  /** Hands the waiter the slot of an attempt that finished. */
  readonly admit: () => void;
  admitted: boolean;
  cancelled: boolean;
}

/** Origins past which an idle gate is dropped. */
const MAX_IDLE_GATES = 1024;

class Gate {
  active = 0;
  waiting: (Waiter | undefined)[] = [];
  head = 0;
}

/**
 * Bounds the attempts in flight to one origin to the connections its pool keeps. undici would
 * queue the others itself, but a request queued there already holds its encoded headers,
 * handler, abort signal, timer and response state: ten triggers of 64 concurrent deliveries kept
 * 640 of those alive, and every young-generation collection copied them again (a quarter of
 * the CPU in the fan-out profile). Waiting here costs a callback.
 */
export class OriginGates {
  private readonly gates = new Map<string, Gate>();

  constructor(private readonly limit: number) {}

  /** True when an attempt may start now; otherwise resolves true once it may, false if cancelled. */
  enter(origin: string, watch: WatchCancel): true | Promise<boolean> {
    let gate = this.gates.get(origin);
    if (gate === undefined) {
      gate = new Gate();
      this.gates.set(origin, gate);
    }
    if (gate.active < this.limit) {
      gate.active++;
      return true;
    }
    const waiting = gate.waiting;
    return new Promise<boolean>((resolve) => {
      let unwatch: (() => void) | undefined;
      const waiter: Waiter = {
        admitted: false,
        cancelled: false,
        admit: () => {
          unwatch?.();
          resolve(true);
        },
      };
      unwatch = watch(() => {
        if (waiter.admitted) return;
        waiter.cancelled = true;
        resolve(false);
      });
      if (!waiter.cancelled) waiting.push(waiter);
    });
  }

  /** An attempt that entered finished: its slot goes to the next waiter, in order. */
  leave(origin: string): void {
    const gate = this.gates.get(origin);
    if (gate === undefined) return;
    while (gate.head < gate.waiting.length) {
      const next = gate.waiting[gate.head]!;
      gate.waiting[gate.head++] = undefined;
      if (next.cancelled) continue;
      if (gate.head > 1024 && gate.head * 2 > gate.waiting.length) {
        gate.waiting = gate.waiting.slice(gate.head);
        gate.head = 0;
      }
      next.admitted = true;
      next.admit();
      return;
    }
    if (gate.head > 0) {
      gate.waiting.length = 0;
      gate.head = 0;
    }
    // An idle origin keeps its gate: at low rates every delivery would otherwise make a gate
    // and a map entry and drop both. Only a process talking to very many origins forgets them.
    if (--gate.active === 0 && this.gates.size > MAX_IDLE_GATES) this.gates.delete(origin);
  }
}
