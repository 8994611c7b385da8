import { setTimeout as sleep } from "node:timers/promises";
import type { Consumer, ConsumerMessages, JsMsg } from "nats";
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
import { durableName, jetStreamName } from "./naming.js";
import type { JetStreamProvisioning } from "./provisioning.js";
import { type NatsSettings, redeliveryDelay } from "./settings.js";

export const DEFAULT_GRACE_MS = 10_000;

/** How long one pull request waits on the server for events (the client default). */
const FETCH_EXPIRES_MS = 30_000;
const MAX_PULL_BACKOFF_MS = 5_000;
/** The lane of ordered events that carry no partitionkey. */
const NO_PARTITION_KEY = "\u0000";

interface Delivery {
  readonly msg: JsMsg;
  readonly event: CloudEvent;
  /** Set once close() gave the event back; the handler's late result is then ignored. */
  abandoned: boolean;
}

export interface JetStreamSubscriptionParams {
  readonly connector: NatsConnector;
  readonly provisioning: JetStreamProvisioning;
  readonly settings: NatsSettings;
  readonly logger: Logger;
  readonly stream: string;
  readonly consumer: string;
  readonly handler: ConsumeHandler;
  readonly options: SubscribeOptions;
}

/**
 * One durable pull consumer. It pulls only as many events as it can hold (the window), so no
 * event waits in this process unseen by JetStream's ack timer: unordered, everything held is
 * running; ordered, events waiting behind their partition key are kept alive with working().
 */
export class JetStreamSubscription implements Subscription {
  readonly #p: JetStreamSubscriptionParams;
  readonly #window: number;
  readonly #lanes: DeliveryLanes<Delivery>;
  readonly #running = new Set<Delivery>();
  readonly #stop = new AbortController();
  #consumer: { link: NatsLink; consumer: Consumer } | undefined;
  #batch: ConsumerMessages | undefined;
  #pulling: Promise<void> = Promise.resolve();
  #touchTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  #nextLane = 0;

  constructor(params: JetStreamSubscriptionParams) {
    this.#p = params;
    const { concurrency, ordered } = params.options;
    // Ordered lanes may queue behind a busy key; hold a few events per slot so other keys flow.
    this.#window = ordered ? Math.max(4 * concurrency, 16) : concurrency;
    this.#lanes = new DeliveryLanes(concurrency, (delivery) => this.#deliver(delivery));
  }

  /** Positions the consumer (creating it if new), then starts pulling. */
  async start(): Promise<void> {
    const { connector, settings } = this.#p;
    const deadline = Date.now() + settings.subscribeTimeoutMs;
    try {
      const link = await connector.connected({ timeoutMs: settings.subscribeTimeoutMs });
      await withDeadline(this.#consumerOn(link), deadline - Date.now());
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
      for (const delivery of this.#lanes.waiting()) delivery.msg.working();
    }, touchEvery);
    this.#pulling = this.#pull();
  }

  close(graceMs = DEFAULT_GRACE_MS): Promise<void> {
    this.#closing ??= this.#close(graceMs);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    this.#stop.abort();
    this.#batch?.stop();
    clearInterval(this.#touchTimer);
    // Events not started yet go straight back, so another consumer can take them now.
    for (const delivery of this.#lanes.takeWaiting()) delivery.msg.nak();
    const grace = new AbortController();
    const timer = setTimeout(() => grace.abort(), graceMs);
    await this.#lanes.whenIdle(grace.signal);
    clearTimeout(timer);
    for (const delivery of this.#running) {
      delivery.abandoned = true;
      delivery.msg.nak();
    }
    await this.#pulling;
  }

  async #consumerOn(link: NatsLink): Promise<Consumer> {
    if (this.#consumer?.link === link) return this.#consumer.consumer;
    const { provisioning, stream, consumer } = this.#p;
    await provisioning.ensureConsumer(link, stream, consumer, this.#window);
    const found = await link.js.consumers.get(jetStreamName(stream), durableName(consumer));
    this.#consumer = { link, consumer: found };
    return found;
  }

  async #pull(): Promise<void> {
    const signal = this.#stop.signal;
    let failures = 0;
    while (!signal.aborted) {
      await this.#lanes.whenBelow(this.#window, signal);
      if (signal.aborted) break;
      try {
        const link = await this.#p.connector.connected({ signal });
        const consumer = await this.#consumerOn(link);
        if (signal.aborted) break;
        const batch = await consumer.fetch({
          max_messages: this.#window - this.#lanes.held,
          expires: FETCH_EXPIRES_MS,
        });
        this.#batch = batch;
        if (signal.aborted) batch.stop();
        for await (const msg of batch) this.#receive(msg);
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        // The consumer may have been deleted or the engine may have lost it: provision again.
        this.#consumer = undefined;
        const wait = Math.min(250 * 2 ** failures, MAX_PULL_BACKOFF_MS);
        (failures++ === 0 ? this.#p.logger.warn : this.#p.logger.debug).call(
          this.#p.logger,
          { err: error, stream: this.#p.stream, consumer: this.#p.consumer, retryInMs: wait },
          "pulling from NATS failed",
        );
        await sleep(wait, undefined, { signal }).catch(() => undefined);
      } finally {
        this.#batch = undefined;
      }
    }
  }

  #receive(msg: JsMsg): void {
    if (this.#stop.signal.aborted) {
      msg.nak();
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
    this.#lanes.push(lane, { msg, event, abandoned: false });
  }

  async #deliver(delivery: Delivery): Promise<void> {
    const { msg, event } = delivery;
    const { handler, options, settings, logger } = this.#p;
    const keepAlive = () => {
      if (!delivery.abandoned) msg.working();
    };
    this.#running.add(delivery);
    try {
      for (let localRetries = 0; ; localRetries++) {
        const deliveryCount = msg.info.deliveryCount + localRetries;
        try {
          await handler(event, { deliveryCount, keepAlive });
          if (!delivery.abandoned) msg.ack();
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
      msg.working();
    }
    return true;
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
