import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from "nats";

/** What JetStream answered to one publish. */
export type PubAckResult =
  | { readonly ok: true; readonly seq: number; readonly duplicate: boolean }
  | { readonly ok: false; readonly reason: string; readonly noResponders: boolean };

const utf8 = new TextDecoder();

interface PendingAck {
  readonly settle: (result: PubAckResult) => void;
}

/**
 * Pipelined JetStream publishing: every message names a reply subject under one wildcard inbox,
 * and PubAcks are matched back by token. This skips the per-request timer, mux entry and error
 * objects of `js.publish()`, which dominated the client's CPU; the caller owns the deadline.
 */
export class PubAckInbox {
  readonly #prefix: string;
  readonly #subscription: Subscription;
  readonly #pending = new Map<string, PendingAck>();
  #nextToken = 0;

  constructor(private readonly nc: NatsConnection) {
    this.#prefix = `${createInbox()}.`;
    this.#subscription = nc.subscribe(`${this.#prefix}*`, {
      callback: (error, msg) => {
        if (!error) this.#answer(msg);
      },
    });
  }

  /**
   * Sends one message and returns its token with a promise for the PubAck. The promise never
   * rejects and never settles if no answer comes: pair it with a deadline and `forget(token)`.
   */
  publish(
    subject: string,
    payload: Uint8Array,
    msgId: string,
    expectedStream: string,
  ): { token: string; answer: Promise<PubAckResult> } {
    const token = (this.#nextToken++).toString(36);
    const meta = headers();
    meta.set("Nats-Msg-Id", msgId);
    meta.set("Nats-Expected-Stream", expectedStream);
    const answer = new Promise<PubAckResult>((settle) => {
      this.#pending.set(token, { settle });
    });
    try {
      this.nc.publish(subject, payload, { reply: this.#prefix + token, headers: meta });
    } catch (error) {
      this.#settle(token, { ok: false, reason: (error as Error).message, noResponders: false });
    }
    return { token, answer };
  }

  /** Drops a publish whose caller stopped waiting; a late PubAck for it is then ignored. */
  forget(token: string): void {
    this.#pending.delete(token);
  }

  close(): void {
    this.#subscription.unsubscribe();
    for (const token of [...this.#pending.keys()]) {
      this.#settle(token, { ok: false, reason: "connection replaced", noResponders: false });
    }
  }

  #answer(msg: Msg): void {
    const token = msg.subject.slice(this.#prefix.length);
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
        error?: { description?: string; code?: number };
      };
      if (reply.error || typeof reply.seq !== "number") {
        const reason = reply.error?.description ?? `unexpected reply (status ${status})`;
        this.#settle(token, { ok: false, reason, noResponders: false });
        return;
      }
      this.#settle(token, { ok: true, seq: reply.seq, duplicate: reply.duplicate === true });
    } catch (error) {
      this.#settle(token, { ok: false, reason: (error as Error).message, noResponders: false });
    }
  }

  #settle(token: string, result: PubAckResult): void {
    const pending = this.#pending.get(token);
    if (!pending) return;
    this.#pending.delete(token);
    pending.settle(result);
  }
}
