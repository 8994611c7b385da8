import type { JsMsg } from "nats";

/**
 * Everything the backing sends to NATS during one turn of the event loop leaves in one socket
 * write: event publishes, acks and pull requests are queued here and handed to the client
 * together from one setImmediate. The client flushes its buffer at the next microtask
 * checkpoint after a send, and every HTTP request and every delivery ends in its own task, so
 * sending at once would cost one write (one syscall, and the engine's wake-up) per message.
 */
export class Outbox {
  #pending: Array<() => void> = [];

  /** Runs `send` later in this turn of the event loop, with every other send queued in it. */
  defer(send: () => void): void {
    if (this.#pending.push(send) === 1) setImmediate(() => this.flush());
  }

  ack(msg: JsMsg): void {
    this.defer(() => {
      try {
        msg.ack();
      } catch {
        // The connection closed: the event is redelivered, which at-least-once allows.
      }
    });
  }

  /** Runs every queued send now; one that throws does not keep the others from leaving. */
  flush(): void {
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    let failure: { error: unknown } | undefined;
    for (const send of batch) {
      try {
        send();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }
}
