import {
  createInbox,
  type JsMsg,
  type Msg,
  type NatsConnection,
  nanos,
  type Subscription,
} from "nats";
// Not re-exported by the package root; it wraps a delivered message with ack/nak/working/term.
import { toJsMsg } from "nats/lib/jetstream/jsmsg.js";

/** How long one pull request waits on the server for events before it expires. */
const EXPIRES_MS = 30_000;
/** While a request waits, the server sends a heartbeat this often; two missed means trouble. */
const HEARTBEAT_MS = 15_000;
/** How long stop() waits for each answer from the server before handing events back anyway. */
const STOP_STEP_TIMEOUT_MS = 2_000;

export interface PullRequestsParams {
  readonly nc: NatsConnection;
  readonly apiPrefix: string;
  readonly streamName: string;
  readonly durable: string;
  readonly ackWaitMs: number;
  /** One event arrived, delivered for the `deliveryCount`th time (1 the first time). */
  readonly onEvent: (msg: JsMsg, deliveryCount: number) => void;
  /** Fewer events are on their way than before: time to ask for more. */
  readonly onRoom: () => void;
  /** The server stopped answering this consumer (deleted, or the engine lost it). */
  readonly onSilence: () => void;
}

/**
 * The delivery count in a JetStream ack subject: `$JS.ACK.<stream>.<consumer>.<count>.…` (9
 * tokens), or with `<domain>.<account hash>` after `ACK` (11 or 12 tokens), the shapes nats.js
 * reads in `JsMsg.info`, which parses (and allocates) every field where one is needed per event.
 */
export function deliveryCountOf(reply: string): number | undefined {
  const tokens = reply.split(".");
  if (tokens.length < 9 || tokens[0] !== "$JS" || tokens[1] !== "ACK") return undefined;
  const count = Number(tokens[tokens.length === 9 ? 4 : 6]);
  return Number.isSafeInteger(count) && count >= 1 ? count : undefined;
}

/**
 * Asks a durable pull consumer for events over one long-lived inbox, and never for more than
 * the subscription has room for. `fetch()` in nats.js costs a subscription, timers and a status
 * iterator per batch; here a request is one small publish, so even a busy consumer that frees
 * one slot at a time can refill cheaply.
 */
export class PullRequests {
  readonly #p: PullRequestsParams;
  readonly #inbox = createInbox();
  readonly #subscription: Subscription;
  readonly #requestSubject: string;
  readonly #liveness: NodeJS.Timeout;
  /** Events asked for and neither delivered nor expired yet. */
  #outstanding = 0;
  #lastSign = Date.now();
  #stopping: Promise<void> | undefined;
  /** Events that arrived after stop(), handed back once the server dropped our requests. */
  #late: JsMsg[] | undefined;

  constructor(params: PullRequestsParams) {
    this.#p = params;
    this.#requestSubject = `${params.apiPrefix}.CONSUMER.MSG.NEXT.${params.streamName}.${params.durable}`;
    this.#subscription = params.nc.subscribe(this.#inbox, {
      callback: (error, msg) => {
        if (!error) this.#arrived(msg);
      },
    });
    this.#liveness = setInterval(() => this.#checkLiveness(), HEARTBEAT_MS);
  }

  get outstanding(): number {
    return this.#outstanding;
  }

  /**
   * Asks for more events when the room not yet asked for is worth a request: a few slots at a
   * time, or anything at all when nothing is on its way. True when it sent a request.
   */
  request(room: number, minimum: number): boolean {
    const wanted = room - this.#outstanding;
    if (wanted <= 0 || (wanted < minimum && this.#outstanding > 0)) return false;
    if (this.#p.nc.isClosed()) return false;
    if (this.#outstanding === 0) this.#lastSign = Date.now();
    this.#outstanding += wanted;
    this.#p.nc.publish(
      this.#requestSubject,
      JSON.stringify({
        batch: wanted,
        expires: nanos(EXPIRES_MS),
        idle_heartbeat: nanos(HEARTBEAT_MS),
      }),
      { reply: this.#inbox },
    );
    return true;
  }

  /** Forgets every request on its way (after a reconnect, the server no longer has them). */
  reset(): void {
    this.#outstanding = 0;
  }

  /**
   * Asks for nothing more and hands back (plain nak: redeliver now) every event still on its
   * way. Resolves once the server holds none of our requests any more, so an event nak'd from
   * then on goes to a live consumer (see #stop for why the order matters).
   *
   * A plain unsubscribe would make the client drop the events the server pushed before it read
   * the UNSUB (unread in our socket, or on the wire), redelivered only after the ack wait. So
   * the inbox drains: the UNSUB goes out at once and the inbox stays until the server answers a
   * flush sent behind it. After that the server sends nothing more here.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    clearInterval(this.#liveness);
    this.#late = [];
    const { nc, apiPrefix, streamName, durable } = this.#p;
    try {
      if (nc.isClosed()) return;
      await withTimeout(this.#subscription.drain(), STOP_STEP_TIMEOUT_MS);
      // nats-server before nats-server#5305 (2.9.10 here) loses a nak'd event it redelivers
      // while only requests without interest wait (it pops it from the redelivery queue, finds
      // no taker and steps the stream position back instead: the event waits for the ack wait
      // and the newest one comes twice). Our requests lost their interest with the UNSUB but
      // stay queued until the engine sweeps them, which a consumer info does.
      await nc.request(`${apiPrefix}.CONSUMER.INFO.${streamName}.${durable}`, undefined, {
        timeout: STOP_STEP_TIMEOUT_MS,
      });
    } catch {
      // Closed or slow to answer: hand the events back anyway; at worst one waits the ack wait.
    } finally {
      const late = this.#late;
      this.#late = undefined;
      for (const msg of late) giveBack(msg);
    }
  }

  #arrived(msg: Msg): void {
    if (this.#stopping) {
      if (msg.subject === this.#inbox) return; // status of a request we no longer care about
      const late = toJsMsg(msg, this.#p.ackWaitMs);
      if (this.#late) this.#late.push(late);
      else giveBack(late);
      return;
    }
    this.#lastSign = Date.now();
    if (msg.subject !== this.#inbox) {
      this.#outstanding = Math.max(this.#outstanding - 1, 0);
      // Every message JetStream delivers has an ack subject; were it unreadable, count it first.
      this.#p.onEvent(toJsMsg(msg, this.#p.ackWaitMs), deliveryCountOf(msg.reply ?? "") ?? 1);
      return;
    }
    // A status message about our requests: 100 heartbeat, 408 expired, 409 refused, 503 none.
    const code = msg.headers?.code ?? 0;
    if (code === 100) return;
    const left = Number(msg.headers?.get("Nats-Pending-Messages") || Number.NaN);
    if (Number.isFinite(left)) {
      this.#outstanding = Math.max(this.#outstanding - left, 0);
    } else {
      // Which request failed is unknown; start over. Surplus deliveries just wait in the lanes.
      this.#outstanding = 0;
    }
    if (
      code === 503 ||
      (code === 409 && /consumer deleted/i.test(msg.headers?.description ?? ""))
    ) {
      this.#p.onSilence();
      return;
    }
    this.#p.onRoom();
  }

  #checkLiveness(): void {
    if (this.#outstanding === 0 || this.#p.nc.isClosed()) return;
    if (Date.now() - this.#lastSign > 2 * HEARTBEAT_MS + 1_000) {
      this.#outstanding = 0;
      this.#lastSign = Date.now();
      this.#p.onSilence();
    }
  }
}

/** Redeliver now, to whichever consumer asks next. */
export function giveBack(msg: JsMsg): void {
  try {
    msg.nak();
  } catch {
    // The connection closed: the server redelivers after the ack wait, as for any unacked event.
  }
}

async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
