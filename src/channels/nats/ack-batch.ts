import type { JsMsg } from "nats";

/**
 * Acks issued during one turn of the event loop leave in one socket write. Each handler resolves
 * in its own microtask, so acking at once would cost one write (one syscall) per event.
 */
export class AckBatch {
  #pending: JsMsg[] = [];

  ack(msg: JsMsg): void {
    if (this.#pending.push(msg) === 1) setImmediate(() => this.flush());
  }

  flush(): void {
    const batch = this.#pending;
    this.#pending = [];
    for (const msg of batch) {
      try {
        msg.ack();
      } catch {
        // The connection closed: the event is redelivered, which at-least-once allows.
      }
    }
  }
}
