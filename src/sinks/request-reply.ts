/**
 * RequestReply (CONTRACT §2a): a request is published into the broker with a correlation id and
 * held until an event whose reply attribute carries that id comes back through the broker.
 *
 * Replies are found the way triggers find events: a consumer of the broker's stream of its own,
 * named for this RequestReply in this process (Knative runs one trigger per data-plane replica).
 * Every process's consumer sees every reply; the id names the process that minted it (see
 * request-reply-correlation.ts), so each process keeps its own and passes over the rest. On a
 * durable backing the request and its reply may be handled by any process of a scale-out.
 */
import type { SubscribeOptions, Subscription } from "../backing/backing.js";
import { BackingUnavailableError } from "../backing/backing.js";
import type { Broker } from "../broker/broker.js";
import { type CloudEvent, eventLogFields, withAttributes } from "../events/event.js";
import type { ExchangeAnswer, ExchangeTarget } from "../events/ingress-target.js";
import type { Logger } from "../observability/logger.js";
import { ReplyAbandonedError, ReplyTimeoutError } from "./exchange-errors.js";
import {
  type CorrelationKeys,
  mintCorrelationId,
  parseCorrelationId,
  verifyCorrelation,
} from "./request-reply-correlation.js";

export interface RequestReplyConfig {
  readonly namespace: string;
  readonly name: string;
  readonly correlationAttribute: string;
  readonly replyAttribute: string;
  readonly timeoutMs: number;
  readonly keys: CorrelationKeys;
}

/** The watch only reads an attribute and wakes a request: it keeps up at any concurrency. */
const WATCH_OPTIONS: SubscribeOptions = Object.freeze({ concurrency: 256, ordered: false });

interface Waiter {
  /** Hands the reply to the request. */
  answer(reply: CloudEvent): void;
  abandon(reason: string): void;
  /** Stops waiting without settling (the request failed before it was published). */
  cancel(): void;
}

interface Watch {
  readonly broker: Broker;
  readonly subscription: Subscription;
}

export class RequestReplyRuntime implements ExchangeTarget {
  readonly namespace: string;
  readonly name: string;
  /** Requests waiting for their reply, by the nonce of their correlation id. */
  private readonly pending = new Map<string, Waiter>();
  private watch: Watch | undefined;
  private stopped = false;

  constructor(
    private readonly deps: { readonly logger: Logger },
    private config: RequestReplyConfig,
    /** This RequestReply in this process: routes replies back here (`[a-z0-9]+`). */
    readonly instance: string,
  ) {
    this.namespace = config.namespace;
    this.name = config.name;
  }

  /** The broker consumer that watches for replies; no other process uses this name. */
  get consumerName(): string {
    return `requestreply.${this.namespace}.${this.name}.${this.instance}`;
  }

  get waiting(): number {
    return this.pending.size;
  }

  /** A new version of the resource: requests already waiting keep their timeout. */
  update(config: RequestReplyConfig): void {
    this.config = config;
  }

  /** Watches `broker` for replies (from now on); a previous broker's watch is removed. */
  async follow(broker: Broker): Promise<void> {
    if (this.stopped) throw new Error("the RequestReply was stopped");
    if (this.watch?.broker === broker) return;
    const subscription = await broker.backing.subscribe(
      broker.stream,
      this.consumerName,
      (event) => this.see(event),
      WATCH_OPTIONS,
    );
    const previous = this.watch;
    this.watch = { broker, subscription };
    if (previous) await this.unwatch(previous, broker);
  }

  /** Stops watching (its broker is gone); requests answer 503 until it follows one again. */
  async unfollow(): Promise<void> {
    const previous = this.watch;
    this.watch = undefined;
    if (previous) await this.unwatch(previous);
  }

  /**
   * Answers every waiting request with 503 and removes the watch: the instance is this process's
   * alone, so nothing would ever read under its name again.
   */
  async stop(reason: string): Promise<void> {
    this.stopped = true;
    for (const waiter of [...this.pending.values()]) waiter.abandon(reason);
    await this.unfollow();
  }

  async exchange(event: CloudEvent, signal: AbortSignal): Promise<ExchangeAnswer> {
    const watch = this.watch;
    if (watch === undefined || this.stopped) {
      throw new BackingUnavailableError(
        `RequestReply ${this.namespace}/${this.name} is not watching its broker for replies`,
        "requestreply",
      );
    }
    const config = this.config;
    const { id, nonce } = mintCorrelationId(
      this.scope,
      String(event.attributes["id"]),
      this.instance,
      config.keys.signing,
    );
    // Waiting before publishing: the reply may come back before the backing acknowledges.
    const { waiter, reply } = this.wait(nonce, config.timeoutMs, signal);
    try {
      await watch.broker.ingest([withAttributes(event, { [config.correlationAttribute]: id })]);
    } catch (error) {
      waiter.cancel();
      throw error;
    }
    const answer = await reply;
    // The TTL counts hops inside Eventail; it is nobody else's business.
    return { kind: "event", event: withAttributes(answer, { knativebrokerttl: undefined }) };
  }

  private get scope(): string {
    return `${this.namespace}/${this.name}`;
  }

  private wait(
    nonce: string,
    timeoutMs: number,
    signal: AbortSignal,
  ): { waiter: Waiter; reply: Promise<CloudEvent> } {
    let waiter!: Waiter;
    const reply = new Promise<CloudEvent>((resolve, reject) => {
      let settled = false;
      /** True for the first of reply, timeout, abort and cancel; it alone settles the wait. */
      const done = () => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.pending.delete(nonce);
        return true;
      };
      const onAbort = () => {
        if (done()) reject(new ReplyAbandonedError("the client went away before the reply came"));
      };
      const timer = setTimeout(() => {
        if (done()) reject(new ReplyTimeoutError(timeoutMs));
      }, timeoutMs);
      if (signal.aborted) queueMicrotask(onAbort);
      else signal.addEventListener("abort", onAbort, { once: true });
      waiter = {
        answer: (event) => {
          if (done()) resolve(event);
        },
        abandon: (reason) => {
          if (done()) reject(new ReplyAbandonedError(reason));
        },
        cancel: () => void done(),
      };
    });
    // The wait may end (timeout, client gone) while the request is still being published, before
    // anyone awaits it: mark it handled so that is not an unhandled rejection.
    reply.catch(() => undefined);
    this.pending.set(nonce, waiter);
    return { waiter, reply };
  }

  /** The watch's handler: every event of the broker passes here. */
  private async see(event: CloudEvent): Promise<void> {
    const config = this.config;
    const value = event.attributes[config.replyAttribute];
    if (value === undefined) return;
    const parsed = parseCorrelationId(String(value));
    // Not an id this process minted for this RequestReply: another process's reply, or traffic
    // that happens to use the attribute.
    if (parsed === undefined || parsed.correlation.instance !== this.instance) return;
    const { correlation, mac } = parsed;
    if (!verifyCorrelation(this.scope, correlation, mac, config.keys.verifying)) {
      this.deps.logger.warn(
        { ...eventLogFields(event), requestReply: this.scope, attribute: config.replyAttribute },
        "reply ignored: its correlation id does not verify (forged or altered)",
      );
      return;
    }
    const waiter = this.pending.get(correlation.nonce);
    if (waiter === undefined) {
      this.deps.logger.debug(
        { ...eventLogFields(event), requestReply: this.scope, request: correlation.eventId },
        "reply ignored: no request waits for it (answered, timed out or gone)",
      );
      return;
    }
    waiter.answer(event);
  }

  private async unwatch(watch: Watch, next?: Broker): Promise<void> {
    const { broker, subscription } = watch;
    try {
      await subscription.close();
      // The same consumer on the same stream is the new watch's: keep it.
      if (next?.backing === broker.backing && next.stream === broker.stream) return;
      await broker.backing.removeConsumer(broker.stream, this.consumerName);
    } catch (error) {
      this.deps.logger.warn(
        { err: error, requestReply: this.scope, consumer: this.consumerName },
        "could not remove the reply watch from the engine",
      );
    }
  }
}
