import type { JsMsg } from "nats";

/** How long an ack may wait for a write to share when nothing else is being sent. */
export const ACK_DELAY_MS = 5;
/** Acks that no longer wait for company. */
const ACK_BATCH = 256;

/**
 * Everything the backing sends to NATS during one turn of the event loop leaves in one socket
 * write: event publishes and pull requests are queued here and handed to the client together
 * from one setImmediate. The client flushes its buffer at the next microtask checkpoint after a
 * send, and every HTTP request and every delivery ends in its own task, so sending at once would
 * cost one write (a syscall here, a wake-up of the engine there) per message.
 *
 * Acks are not urgent (the ack wait is seconds): they ride along with the next write that
 * carries a publish or a pull request, or leave on their own after ACK_DELAY_MS, so a quiet
 * consumer does not wake the engine once per event just to acknowledge it. A process that dies
 * before sending them gets those events redelivered, which at-least-once allows.
 */
export class Outbox {
  /**
   * `onSendError` hears of a send that threw (the connection closed under it): flush runs from
   * setImmediate, where a throw would end the process.
   */
  constructor(private readonly onSendError: (error: unknown) => void = () => {}) {}

  /** Each returns true when it handed something to the client. */
  #sends: Array<() => boolean> = [];
  #acks: JsMsg[] = [];
  #ackTimer: NodeJS.Timeout | undefined;

  /**
   * Runs `send` later in this turn of the event loop, with every other send queued in it.
   * `send` returns whether it sent anything (pending acks then join the write).
   */
  defer(send: () => boolean): void {
    if (this.#sends.push(send) === 1) setImmediate(() => this.flush());
  }

  ack(msg: JsMsg): void {
    const queued = this.#acks.push(msg);
    if (queued === ACK_BATCH) {
      this.defer(() => true);
    } else if (queued === 1 && this.#ackTimer === undefined) {
      this.#ackTimer = setTimeout(() => {
        this.#ackTimer = undefined;
        this.#flushAcks();
      }, ACK_DELAY_MS);
    }
  }

  /**
   * Runs every queued send, and sends the queued acks along when anything else went out. A
   * send that throws goes to onSendError (the first of the batch); the others still run.
   */
  flush(): void {
    const batch = this.#sends;
    if (batch.length === 0) return;
    this.#sends = [];
    let sent = false;
    let failure: { error: unknown } | undefined;
    for (const send of batch) {
      try {
        if (send()) sent = true;
      } catch (error) {
        failure ??= { error };
      }
    }
    if (sent) this.#flushAcks();
    if (failure) this.onSendError(failure.error);
  }

  /** Sends everything queued now (closing). */
  flushAll(): void {
    this.flush();
    this.#flushAcks();
  }

  #flushAcks(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    const acks = this.#acks;
    if (acks.length === 0) return;
    this.#acks = [];
    for (const msg of acks) {
      try {
        msg.ack();
      } catch {
        // The connection closed: the event is redelivered, which at-least-once allows.
      }
    }
  }
}
