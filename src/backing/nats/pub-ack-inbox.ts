import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from "nats";
import type { Outbox } from "./outbox.js";

/** What JetStream answered to one publish (or that it did not answer before the deadline). */
export type PubAckResult =
  | { readonly ok: true; readonly seq: number; readonly duplicate: boolean }
  | {
      readonly ok: false;
      readonly reason: string;
      readonly noResponders: boolean;
      readonly timedOut?: true;
      /** The subject belongs to another stream than the expected one (a takeover moved it). */
      readonly wrongStream?: true;
    };

const utf8 = new TextDecoder();

/** JetStream's "expected stream does not match". */
const STREAM_NOT_MATCH = 10060;

const TIMED_OUT: PubAckResult = {
  ok: false,
  reason: "NATS did not acknowledge in time (publishTimeoutMs)",
  noResponders: false,
  timedOut: true,
};

interface PendingAck {
  readonly settle: (result: PubAckResult) => void;
  readonly deadline: number;
}

/**
 * Pipelined JetStream publishing: every message names a reply subject under one wildcard inbox,
 * and PubAcks are matched back by token. This skips the per-request timer, mux entry and error
 * objects of `js.publish()`, which dominated the client's CPU. Messages leave through the
 * backing's outbox (one socket write per turn of the event loop), and one timer, armed for the
 * earliest deadline, answers every publish whose PubAck did not come in time.
 */
export class PubAckInbox {
  readonly #prefix: string;
  readonly #subscription: Subscription;
  readonly #pending = new Map<number, PendingAck>();
  #nextToken = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly nc: NatsConnection,
    private readonly outbox: Outbox,
  ) {
    this.#prefix = `${createInbox()}.`;
    this.#subscription = nc.subscribe(`${this.#prefix}*`, {
      callback: (error, msg) => {
        if (!error) this.#answer(msg);
      },
    });
  }

  /**
   * Queues one message and returns a promise for its PubAck. The promise never rejects; it
   * settles with `timedOut` once `deadline` (a Date.now() time) passes without an answer, after
   * which a late PubAck is ignored.
   */
  publish(
    subject: string,
    payload: Uint8Array,
    msgId: string,
    expectedStream: string,
    deadline: number,
  ): Promise<PubAckResult> {
    const token = this.#nextToken++;
    const answer = new Promise<PubAckResult>((settle) => {
      this.#pending.set(token, { settle, deadline });
    });
    if (deadline < this.#timerAt) this.#arm(deadline);
    this.outbox.defer(() => {
      if (!this.#pending.has(token)) return false; // timed out before it left
      const meta = headers();
      meta.set("Nats-Msg-Id", msgId);
      meta.set("Nats-Expected-Stream", expectedStream);
      try {
        this.nc.publish(subject, payload, { reply: this.#prefix + token, headers: meta });
        return true;
      } catch (error) {
        this.#settle(token, { ok: false, reason: (error as Error).message, noResponders: false });
        return false;
      }
    });
    return answer;
  }

  close(): void {
    this.#subscription.unsubscribe();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    for (const token of [...this.#pending.keys()]) {
      this.#settle(token, { ok: false, reason: "connection replaced", noResponders: false });
    }
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#expire(), Math.max(at - Date.now(), 0));
    // A publish in flight keeps its connection (and so the process) alive anyway.
    this.#timer.unref();
  }

  /** Answers every publish past its deadline, then waits for the next deadline. */
  #expire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [token, pending] of this.#pending) {
      if (pending.deadline <= now) this.#settle(token, TIMED_OUT);
      else if (pending.deadline < next) next = pending.deadline;
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next);
  }

  #answer(msg: Msg): void {
    const token = Number.parseInt(msg.subject.slice(this.#prefix.length), 10);
    if (!this.#pending.has(token)) return;
    const status = msg.headers?.code ?? 0;
    if (status === 503) {
      this.#settle(token, {
        ok: false,
        reason: "no stream answers the subject",
        noResponders: true,
      });
      return;
    }
    try {
      const reply = JSON.parse(utf8.decode(msg.data)) as {
        seq?: number;
        duplicate?: boolean;
        error?: { description?: string; code?: number; err_code?: number };
      };
      if (reply.error || typeof reply.seq !== "number") {
        const reason = reply.error?.description ?? `unexpected reply (status ${status})`;
        this.#settle(token, {
          ok: false,
          reason,
          noResponders: false,
          ...(reply.error?.err_code === STREAM_NOT_MATCH ? { wrongStream: true as const } : {}),
        });
        return;
      }
      this.#settle(token, { ok: true, seq: reply.seq, duplicate: reply.duplicate === true });
    } catch (error) {
      this.#settle(token, { ok: false, reason: (error as Error).message, noResponders: false });
    }
  }

  #settle(token: number, result: PubAckResult): void {
    const pending = this.#pending.get(token);
    if (!pending) return;
    this.#pending.delete(token);
    pending.settle(result);
  }
}
