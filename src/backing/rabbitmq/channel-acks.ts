import type { Channel, Message } from "amqplib";

const OPEN = 0;
const WANTS_ACK = 1;
const SETTLED = 2;

/** One message a consumer channel delivered and has not settled on the wire yet. */
export interface TrackedMessage {
  readonly msg: Message;
  state: typeof OPEN | typeof WANTS_ACK | typeof SETTLED;
}

/**
 * The acknowledgements of one consumer channel, sent once per loop turn. The run of finished
 * messages at the head of the channel's delivery order goes as one `multiple` ack (it settles
 * every outstanding tag up to its own); finished messages behind one still running are acked on
 * their own, so a slow message never holds the prefetch window. A quorum queue turns each ack
 * frame into a settle command in its log, so one frame for many messages is what keeps the
 * engine's CPU per event down.
 */
export class ChannelAcks {
  /**
   * Tracked messages in delivery-tag order; those before #head are settled. Settled ones behind
   * a message still running are dropped now and then (#compact), so one stuck message does not
   * make the list grow with every message delivered after it.
   */
  #order: TrackedMessage[] = [];
  #head = 0;
  /** Entries of #order not settled yet. */
  #unsettled = 0;
  /** Finished since the last flush. */
  #due: TrackedMessage[] = [];
  #scheduled = false;

  constructor(
    private readonly channel: Channel,
    /** False once the channel closed: its unacked messages went back to the queue. */
    private readonly isOpen: () => boolean,
  ) {}

  /** Called for every message the channel delivers that is not settled at once, in order. */
  track(msg: Message): TrackedMessage {
    const tracked: TrackedMessage = { msg, state: OPEN };
    this.#order.push(tracked);
    this.#unsettled++;
    return tracked;
  }

  /** The message's handler succeeded: acked with the next flush. */
  ack(tracked: TrackedMessage): void {
    if (tracked.state !== OPEN) return;
    tracked.state = WANTS_ACK;
    this.#due.push(tracked);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Settled otherwise (nacked, or given back): no ack may cover it any more. */
  nack(tracked: TrackedMessage, requeue: boolean): void {
    if (tracked.state !== OPEN) return;
    tracked.state = SETTLED;
    this.#unsettled--;
    if (!this.isOpen()) return;
    try {
      this.channel.nack(tracked.msg, false, requeue);
    } catch {
      // Closed under us: RabbitMQ requeues it anyway.
    }
  }

  /** Sends the acks that are due now (nothing once the channel closed). */
  flush(): void {
    this.#scheduled = false;
    const due = this.#due;
    this.#due = [];
    if (!this.isOpen()) {
      this.#order = [];
      this.#head = 0;
      this.#unsettled = 0;
      return;
    }
    const order = this.#order;
    let head = this.#head;
    let last: TrackedMessage | undefined;
    while (head < order.length && order[head]!.state !== OPEN) {
      const tracked = order[head]!;
      if (tracked.state === WANTS_ACK) {
        last = tracked;
        tracked.state = SETTLED;
        this.#unsettled--;
      }
      head++;
    }
    this.#head = head;
    try {
      if (last !== undefined) this.channel.ack(last.msg, true);
      for (const tracked of due) {
        // Covered by the multiple ack above, or settled since.
        if (tracked.state !== WANTS_ACK) continue;
        tracked.state = SETTLED;
        this.#unsettled--;
        this.channel.ack(tracked.msg);
      }
    } catch {
      // The channel closed under us (amqplib throws then): RabbitMQ requeues what it held.
    }
    this.#compact();
  }

  #compact(): void {
    const kept = this.#order.length - this.#head;
    if (kept === 0) {
      this.#order = [];
      this.#head = 0;
    } else if (this.#head > 1024 || kept > 2 * this.#unsettled + 64) {
      this.#order = this.#order.slice(this.#head).filter((tracked) => tracked.state !== SETTLED);
      this.#head = 0;
    }
  }

  /** Messages this channel still tracks (for tests: it must stay near the prefetch window). */
  get tracked(): number {
    return this.#order.length - this.#head;
  }
}
