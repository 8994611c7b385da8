import { setTimeout as sleep } from "node:timers/promises";
import type { JsMsg } from "nats";
import type { CloudEvent } from "../../events/event.js";
import { decodeFromStorage } from "../../events/json-format.js";
import type { Logger } from "../../observability/logger.js";
import {
  BackingUnavailableError,
  type ConsumeHandler,
  type SubscribeOptions,
  type Subscription,
} from "../backing.js";
import type { NatsConnector, NatsLink } from "./connection.js";
import { DeliveryLanes } from "./delivery-lanes.js";
import { durableName, eventSubject, jetStreamName } from "./naming.js";
import type { Outbox } from "./outbox.js";
import { ConsumerBeingReplacedError, type JetStreamProvisioning } from "./provisioning.js";
import { giveBack, PullRequests } from "./pull-requests.js";
import { type NatsSettings, redeliveryDelay } from "./settings.js";

export const DEFAULT_GRACE_MS = 10_000;

const MAX_RECOVERY_BACKOFF_MS = 5_000;
const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;
/** The lane of ordered events that carry no partitionkey. */
const NO_PARTITION_KEY = "\u0000";

interface Delivery {
  readonly msg: JsMsg;
  readonly event: CloudEvent;
  /** How many times JetStream delivered it, this time included. */
  readonly deliveryCount: number;
  /** Set once close() gave the event back; the handler's late result is then ignored. */
  abandoned: boolean;
}

export interface JetStreamSubscriptionParams {
  readonly connector: NatsConnector;
  readonly outbox: Outbox;
  readonly provisioning: JetStreamProvisioning;
  readonly settings: NatsSettings;
  readonly logger: Logger;
  readonly stream: string;
  readonly consumer: string;
  readonly handler: ConsumeHandler;
  readonly options: SubscribeOptions;
  /**
   * Pull from this JetStream stream only, without creating anything: the stream a retention
   * takeover left draining (provisioning.ts). Once it or the consumer is gone, the subscription
   * stops taking events.
   */
  readonly drains?: string;
}

/**
 * One durable pull consumer. It asks only for as many events as it can hold (the window), so no
 * event waits in this process unseen by JetStream's ack timer: unordered, everything held is
 * running; ordered, events waiting behind their partition key are kept alive with working().
 */
export class JetStreamSubscription implements Subscription {
  readonly #p: JetStreamSubscriptionParams;
  readonly #window: number;
  /** Room worth a new pull request while others are still on their way. */
  readonly #minimumRequest: number;
  readonly #lanes: DeliveryLanes<Delivery>;
  readonly #running = new Set<Delivery>();
  readonly #stop = new AbortController();
  #pulls: { link: NatsLink; requests: PullRequests } | undefined;
  #refillScheduled = false;
  #recovering = false;
  #touchTimer: NodeJS.Timeout | undefined;
  #unlisten: () => void = () => {};
  #closing: Promise<void> | undefined;
  #nextLane = 0;
  /** The JetStream stream pulled from; kept across reconnects, found again on recovery. */
  #jsName: string;
  /** Where the consumer stood when last read; recovery recreates a lost one from there. */
  #resumeAt: number | undefined;
  /** The last event received; its sequence is read only on recovery (parsing costs per event). */
  #lastReceived: JsMsg | undefined;
  /**
   * Set once recovery found the durable consumer with another filter: a newer version of the
   * trigger owns it, so this one stops pulling and only finishes what it holds.
   */
  #superseded = false;
  /** The subject of every event a type-filtered consumer sends; undefined without a type hint. */
  readonly #subject: string | undefined;

  constructor(params: JetStreamSubscriptionParams) {
    this.#p = params;
    const { concurrency, ordered, typeHint } = params.options;
    this.#subject = typeHint === undefined ? undefined : eventSubject(params.stream, typeHint);
    // Ordered lanes may queue behind a busy key; hold a few events per slot so other keys flow.
    this.#window = ordered ? Math.max(4 * concurrency, 16) : concurrency;
    this.#minimumRequest = Math.max(1, Math.floor(this.#window / 8));
    this.#lanes = new DeliveryLanes(concurrency, (delivery) => this.#deliver(delivery));
    this.#jsName = params.drains ?? jetStreamName(params.stream);
  }

  /** The JetStream stream this subscription pulls from. */
  get jetStreamName(): string {
    return this.#jsName;
  }

  /** True once it stopped taking events (closed, or the stream it drained is gone). */
  get stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  /** Positions the consumer (creating it if new), then starts pulling. */
  async start(): Promise<void> {
    const { connector, settings } = this.#p;
    const deadline = Date.now() + settings.subscribeTimeoutMs;
    try {
      const link = await connector.connected({ timeoutMs: settings.subscribeTimeoutMs });
      await withDeadline(this.#ensureConsumer(link, false), deadline - Date.now());
      if (this.#p.drains === undefined) {
        this.#jsName = this.#p.provisioning.activeName(link, this.#p.stream);
      }
    } catch (error) {
      if (error instanceof BackingUnavailableError) throw error;
      throw new BackingUnavailableError(
        `could not create NATS consumer ${this.#p.consumer} on ${this.#p.stream}: ${(error as Error).message}`,
        "nats",
        { cause: error },
      );
    }
    const touchEvery = Math.max(Math.floor(settings.ackWaitMs / 3), 250);
    this.#touchTimer = setInterval(() => {
      for (const delivery of this.#lanes.waiting()) touch(delivery.msg);
    }, touchEvery);
    this.#unlisten = connector.onChange((up) => {
      // After a reconnect the server may have forgotten our requests (it may have restarted).
      if (!up) return;
      this.#pulls?.requests.reset();
      this.#scheduleRefill();
    });
    this.#refill();
  }

  close(graceMs = DEFAULT_GRACE_MS): Promise<void> {
    this.#closing ??= this.#close(graceMs);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    this.#stop.abort();
    this.#unlisten();
    clearInterval(this.#touchTimer);
    // Events not started yet go back (with those still arriving), so another consumer can take
    // them now; nak'd only once the server dropped our pull requests (PullRequests.stop).
    const waiting = this.#lanes.takeWaiting();
    const pullsStopped = (this.#pulls?.requests.stop() ?? Promise.resolve()).then(() => {
      for (const delivery of waiting) giveBack(delivery.msg);
    });
    const grace = new AbortController();
    const timer = setTimeout(() => grace.abort(), graceMs);
    await this.#lanes.whenIdle(grace.signal);
    clearTimeout(timer);
    const unfinished = [...this.#running];
    for (const delivery of unfinished) delivery.abandoned = true;
    await pullsStopped;
    for (const delivery of unfinished) giveBack(delivery.msg);
  }

  /** Positions the consumer; false when a newer version of the trigger owns it now. */
  async #ensureConsumer(link: NatsLink, recovering: boolean): Promise<boolean> {
    const { provisioning, stream, consumer, drains } = this.#p;
    if (drains !== undefined) {
      // Throws when the drained stream or the consumer is gone.
      await link.jsm.consumers.info(drains, durableName(consumer));
      return true;
    }
    const ensured = await provisioning.ensureConsumer(
      link,
      stream,
      consumer,
      this.#window,
      this.#p.options.typeHint,
      recovering ? { resumeAt: this.#lostAt() } : undefined,
    );
    if (ensured.superseded) return false;
    this.#resumeAt = ensured.resumeAt;
    return true;
  }

  /**
   * Where a consumer that vanished under us must start again to skip nothing this process
   * knows of: its first event still held here, else the one after the last received (events
   * other processes held unacked are beyond what this one can know).
   */
  #lostAt(): number | undefined {
    // A redelivery received last only moves this back: duplicates, never a skipped event.
    let at = this.#lastReceived === undefined ? this.#resumeAt : this.#lastReceived.seq + 1;
    if (at === undefined) return undefined;
    for (const delivery of [...this.#running, ...this.#lanes.waiting()]) {
      at = Math.min(at, delivery.msg.seq);
    }
    return at;
  }

  /**
   * Coalesces the refills of everything that finished in one turn of the event loop; the pull
   * request leaves in the same write as that turn's acks.
   */
  #scheduleRefill(): void {
    if (this.#refillScheduled) return;
    this.#refillScheduled = true;
    this.#p.outbox.defer(() => {
      this.#refillScheduled = false;
      return this.#refill();
    });
  }

  /**
   * Asks for as many events as there is room for; true when a request went out. Never throws:
   * it runs from timers, listeners and promises nobody awaits.
   */
  #refill(): boolean {
    if (this.#stop.signal.aborted || this.#recovering || this.#superseded) return false;
    const link = this.#p.connector.current();
    if (!link) return false; // the reconnect listener refills
    try {
      if (this.#pulls?.link !== link) {
        void this.#pulls?.requests.stop();
        this.#pulls = { link, requests: this.#pullRequests(link) };
      }
      return this.#pulls.requests.request(this.#window - this.#lanes.held, this.#minimumRequest);
    } catch (error) {
      // The connection is closing or closed; the connector's next link brings a refill.
      this.#p.logger.debug(
        { err: error, stream: this.#p.stream, consumer: this.#p.consumer },
        "could not ask NATS for events",
      );
      return false;
    }
  }

  #pullRequests(link: NatsLink): PullRequests {
    return new PullRequests({
      nc: link.nc,
      apiPrefix: link.js.apiPrefix,
      streamName: this.#jsName,
      durable: durableName(this.#p.consumer),
      ackWaitMs: this.#p.settings.ackWaitMs,
      onEvent: (msg, deliveryCount) => this.#receive(msg, deliveryCount),
      onRoom: () => this.#scheduleRefill(),
      onSilence: () => void this.#recover(),
    });
  }

  /** The consumer went quiet: it may have been deleted, or the engine may have lost it. */
  async #recover(): Promise<void> {
    if (this.#recovering || this.#superseded || this.#stop.signal.aborted) return;
    this.#recovering = true;
    const signal = this.#stop.signal;
    for (let failures = 0; !signal.aborted; failures++) {
      try {
        const link = await this.#p.connector.connected({ signal });
        if (!(await this.#ensureConsumer(link, true))) {
          this.#superseded = true;
          void this.#pulls?.requests.stop();
          this.#pulls = undefined;
          this.#p.logger.info(
            { stream: this.#p.stream, consumer: this.#p.consumer },
            "NATS consumer now has another filter (a newer version of this trigger): no longer pulling",
          );
          break;
        }
        const active = this.#p.provisioning.activeName(link, this.#p.stream);
        if (this.#p.drains === undefined && active !== this.#jsName) {
          // A retention takeover deleted the stream this pulled from once it was drained.
          this.#jsName = active;
          void this.#pulls?.requests.stop();
          this.#pulls = undefined;
        }
        break;
      } catch (error) {
        if (signal.aborted) break;
        const code = (error as { api_error?: { err_code?: number } }).api_error?.err_code;
        if (
          this.#p.drains !== undefined &&
          (code === STREAM_NOT_FOUND || code === CONSUMER_NOT_FOUND)
        ) {
          // The drained stream is gone (or its consumer): nothing is left to take here.
          this.#stop.abort();
          break;
        }
        const wait = Math.min(250 * 2 ** failures, MAX_RECOVERY_BACKOFF_MS);
        // A filter change under way is what made the consumer go quiet; it ends in a moment.
        const expected = error instanceof ConsumerBeingReplacedError;
        (failures === 0 && !expected ? this.#p.logger.warn : this.#p.logger.debug).call(
          this.#p.logger,
          { err: error, stream: this.#p.stream, consumer: this.#p.consumer, retryInMs: wait },
          "NATS consumer unavailable; provisioning it again",
        );
        await sleep(wait, undefined, { signal }).catch(() => undefined);
      }
    }
    this.#recovering = false;
    this.#pulls?.requests.reset();
    this.#refill();
  }

  #receive(msg: JsMsg, deliveryCount: number): void {
    if (this.#stop.signal.aborted) {
      msg.nak();
      return;
    }
    if (this.#subject !== undefined && msg.subject !== this.#subject) {
      // Another type: a newer version of the trigger rebuilt the durable for its filter while
      // this one was away (the 409 that tells was lost with the connection), and this one's new
      // pull requests went to it. The event is the newer version's; recovery sees the filter.
      msg.nak();
      void this.#recover();
      return;
    }
    let event: CloudEvent;
    try {
      event = decodeFromStorage(Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.length));
    } catch (error) {
      // Not an Eventail event: redelivering it would fail the same way forever.
      this.#p.logger.error(
        { err: error, stream: this.#p.stream, consumer: this.#p.consumer, seq: msg.seq },
        "dropping undecodable message",
      );
      msg.term();
      return;
    }
    const key = event.attributes["partitionkey"];
    const lane = !this.#p.options.ordered
      ? String(this.#nextLane++)
      : key === undefined
        ? NO_PARTITION_KEY
        : String(key);
    this.#lastReceived = msg;
    this.#lanes.push(lane, { msg, event, deliveryCount, abandoned: false });
  }

  async #deliver(delivery: Delivery): Promise<void> {
    const { msg, event } = delivery;
    const { handler, options, settings, logger } = this.#p;
    const keepAlive = () => {
      if (!delivery.abandoned) touch(msg);
    };
    this.#running.add(delivery);
    try {
      for (let localRetries = 0; ; localRetries++) {
        const deliveryCount = delivery.deliveryCount + localRetries;
        try {
          await handler(event, { deliveryCount, keepAlive });
          if (!delivery.abandoned) this.#p.outbox.ack(msg);
          return;
        } catch (error) {
          if (delivery.abandoned) return;
          logger.debug(
            { err: error, stream: this.#p.stream, consumer: this.#p.consumer, deliveryCount },
            "handler rejected; event will be redelivered",
          );
          const delay = redeliveryDelay(settings, deliveryCount);
          if (!options.ordered || this.#stop.signal.aborted) {
            msg.nak(this.#stop.signal.aborted ? 0 : delay);
            return;
          }
          // Ordered: the next event of this key must not overtake, so retry here, holding the
          // lane and the event's lease, instead of handing it back to JetStream.
          if (!(await this.#waitHolding(msg, delay))) {
            msg.nak();
            return;
          }
        }
      }
    } finally {
      this.#running.delete(delivery);
      this.#scheduleRefill();
    }
  }

  /** Sleeps `ms` while keeping the event's ack timer fresh; false when closing cut it short. */
  async #waitHolding(msg: JsMsg, ms: number): Promise<boolean> {
    const step = Math.max(Math.floor(this.#p.settings.ackWaitMs / 3), 250);
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const done = await sleep(Math.min(step, until - Date.now()), true, {
        signal: this.#stop.signal,
      }).catch(() => false);
      if (!done) return false;
      touch(msg);
    }
    return true;
  }
}

/** Keeps an event's ack timer fresh; on a closed connection it is redelivered after it anyway. */
function touch(msg: JsMsg): void {
  try {
    msg.working();
  } catch {
    // ConnectionClosed: nothing to keep alive any more.
  }
}

async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new BackingUnavailableError(`NATS did not answer within ${ms} ms`, "nats")),
      Math.max(ms, 0),
    );
  });
  work.catch(() => undefined);
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
