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
  /** Tracked messages in delivery-tag order; those before #head are settled. */
  #order: TrackedMessage[] = [];
  #head = 0;
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
    return tracked;
  }

  /** The message's handler succeeded: acked with the next flush. */
  ack(tracked: TrackedMessage): void {
    if (tracked.state !== OPEN) return;
    tracked.state = WANTS_ACK;
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Settled otherwise (nacked, or given back): no ack may cover it any more. */
  nack(tracked: TrackedMessage, requeue: boolean): void {
    if (tracked.state !== OPEN) return;
    tracked.state = SETTLED;
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
    if (!this.isOpen()) {
      this.#order = [];
      this.#head = 0;
      return;
    }
    const order = this.#order;
    let head = this.#head;
    let last: TrackedMessage | undefined;
    while (head < order.length && order[head]!.state !== OPEN) {
      if (order[head]!.state === WANTS_ACK) last = order[head];
      order[head]!.state = SETTLED;
      head++;
    }
    try {
      if (last !== undefined) this.channel.ack(last.msg, true);
      for (let i = head; i < order.length; i++) {
        const tracked = order[i]!;
        if (tracked.state !== WANTS_ACK) continue;
        tracked.state = SETTLED;
        this.channel.ack(tracked.msg);
      }
    } catch {
      // The channel closed under us (amqplib throws then): RabbitMQ requeues what it held.
    }
    if (head === order.length) {
      this.#order = [];
      this.#head = 0;
    } else if (head > 256) {
      this.#order = order.slice(head);
      this.#head = 0;
    } else this.#head = head;
  }
}
