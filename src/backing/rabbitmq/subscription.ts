import { setTimeout as sleep } from "node:timers/promises";
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import type { CloudEvent } from "../../events/event.js";
import { decodeFromStorage } from "../../events/json-format.js";
import type { Logger } from "../../observability/logger.js";
import type { ConsumeHandler, SubscribeOptions, Subscription } from "../backing.js";
import { DeliveryLanes } from "../nats/delivery-lanes.js";
import { ChannelAcks, type TrackedMessage } from "./channel-acks.js";
import { type RabbitConnector, unavailable, withTimeout } from "./connection.js";
import { type RabbitSettings, redeliveryDelay } from "./settings.js";
import { declareConsumerQueue } from "./topology.js";

export const DEFAULT_GRACE_MS = 10_000;
const MAX_ATTACH_BACKOFF_MS = 5_000;
const CHANNEL_CLOSE_MS = 2_000;
/** The lane of ordered events that carry no partitionkey. */
const NO_PARTITION_KEY = "\u0000";

interface Attachment {
  readonly channel: Channel;
  readonly acks: ChannelAcks;
  consumerTag: string | undefined;
  /** False once the channel closed: its unacked messages went back to the queue. */
  open: boolean;
}

interface Delivery {
  readonly tracked: TrackedMessage;
  readonly attachment: Attachment;
  readonly event: CloudEvent;
  readonly deliveryCount: number;
  /** Set once close() gave the event back; the handler's late result is then ignored. */
  abandoned: boolean;
}

export interface RabbitSubscriptionParams {
  readonly connector: RabbitConnector;
  readonly settings: RabbitSettings;
  readonly logger: Logger;
  readonly stream: string;
  readonly consumer: string;
  readonly handler: ConsumeHandler;
  readonly options: SubscribeOptions;
}

/**
 * How many times RabbitMQ delivered `msg`, this time included. Quorum queues count returns in
 * x-delivery-count; classic queues only flag a redelivery, which is then reported as the second.
 */
export function deliveryCountOf(msg: Pick<ConsumeMessage, "fields" | "properties">): number {
  const counted = msg.properties.headers?.["x-delivery-count"];
  if (typeof counted === "number" && Number.isInteger(counted) && counted >= 0) return counted + 1;
  return msg.fields.redelivered ? 2 : 1;
}

/**
 * One consumer on the trigger's durable queue. The channel's prefetch is the window: unordered,
 * every message held is running (prefetch = concurrency); ordered, a few per slot wait behind
 * their partition key. A message is acked only after its handler resolved; a rejected one is
 * nacked back to the queue after a backoff (ordered: retried here so nothing overtakes it). A
 * channel or connection that dies takes its unacked messages back to the queue, which is how a
 * killed process's events reach the survivors.
 */
export class RabbitSubscription implements Subscription {
  readonly #p: RabbitSubscriptionParams;
  readonly #window: number;
  readonly #lanes: DeliveryLanes<Delivery>;
  readonly #running = new Set<Delivery>();
  readonly #stop = new AbortController();
  #attachment: Attachment | undefined;
  #attaching: Promise<void> | undefined;
  #unlisten: () => void = () => {};
  #closing: Promise<void> | undefined;
  #nextLane = 0;

  constructor(params: RabbitSubscriptionParams) {
    this.#p = params;
    const { concurrency, ordered } = params.options;
    this.#window = ordered ? Math.max(4 * concurrency, 16) : concurrency;
    this.#lanes = new DeliveryLanes(concurrency, (delivery) => this.#deliver(delivery));
  }

  /** Declares the queue (creating it if new) and starts consuming. */
  async start(): Promise<void> {
    const { connector, settings, stream, consumer } = this.#p;
    const what = `creating RabbitMQ consumer ${consumer} on ${stream}`;
    const deadline = Date.now() + settings.subscribeTimeoutMs;
    try {
      const model = await connector.connected({ timeoutMs: settings.subscribeTimeoutMs });
      await withTimeout(this.#attach(model), deadline - Date.now(), what);
    } catch (error) {
      this.#stop.abort();
      const attachment = this.#attachment;
      this.#attachment = undefined;
      if (attachment) await closeChannel(attachment);
      throw unavailable(what, error);
    }
    this.#unlisten = connector.onChange((model) => {
      if (model && !this.#attachment) this.#reattach();
    });
  }

  close(graceMs = DEFAULT_GRACE_MS): Promise<void> {
    this.#closing ??= this.#close(graceMs);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    this.#stop.abort();
    this.#unlisten();
    const attachment = this.#attachment;
    // Stop the flow first, so nothing new arrives while in-flight handlers finish.
    if (attachment?.open && attachment.consumerTag !== undefined) {
      await withTimeout(attachment.channel.cancel(attachment.consumerTag), CHANNEL_CLOSE_MS).catch(
        () => undefined,
      );
    }
    for (const delivery of this.#lanes.takeWaiting()) {
      delivery.abandoned = true;
      delivery.attachment.acks.nack(delivery.tracked, true);
    }
    const grace = new AbortController();
    const timer = setTimeout(() => grace.abort(), graceMs);
    await this.#lanes.whenIdle(grace.signal);
    clearTimeout(timer);
    for (const delivery of this.#running) delivery.abandoned = true;
    // Closing the channel returns whatever is still unacked to the queue.
    this.#attachment = undefined;
    if (attachment) await closeChannel(attachment);
  }

  async #attach(model: ChannelModel): Promise<void> {
    const { settings, stream, consumer, options, logger } = this.#p;
    const queue = await declareConsumerQueue(
      model,
      settings,
      { stream, consumer, ordered: options.ordered, typeHint: options.typeHint },
      logger,
    );
    const channel = await model.createChannel();
    const attachment: Attachment = {
      channel,
      acks: new ChannelAcks(channel, () => attachment.open),
      consumerTag: undefined,
      open: true,
    };
    this.#attachment = attachment;
    channel.on("error", (error: Error) => {
      logger.warn({ err: error, queue }, "RabbitMQ consumer channel error");
    });
    channel.on("close", () => {
      attachment.open = false;
      if (this.#attachment !== attachment) return;
      this.#attachment = undefined;
      if (!this.#stop.signal.aborted && this.#p.connector.current()) this.#reattach();
    });
    await channel.prefetch(this.#window);
    const { consumerTag } = await channel.consume(
      queue,
      (msg) => {
        if (msg === null) {
          // RabbitMQ cancelled the consumer: its queue was deleted (the trigger was removed
          // elsewhere). A process still subscribed gets a fresh queue at the stream's end.
          void closeChannel(attachment);
          return;
        }
        this.#receive(attachment, msg);
      },
      { noAck: false },
    );
    attachment.consumerTag = consumerTag;
    if (this.#stop.signal.aborted) await closeChannel(attachment);
  }

  /** Attaches again after the channel or connection went, retrying until it works or closes. */
  #reattach(): void {
    if (this.#attaching || this.#stop.signal.aborted) return;
    const signal = this.#stop.signal;
    this.#attaching = (async () => {
      for (let failures = 0; !signal.aborted && !this.#attachment; failures++) {
        try {
          const model = await this.#p.connector.connected({ signal });
          await withTimeout(this.#attach(model), this.#p.settings.subscribeTimeoutMs);
          return;
        } catch (error) {
          if (signal.aborted) return;
          const wait = Math.min(250 * 2 ** failures, MAX_ATTACH_BACKOFF_MS);
          (failures === 0 ? this.#p.logger.warn : this.#p.logger.debug).call(
            this.#p.logger,
            { err: error, stream: this.#p.stream, consumer: this.#p.consumer, retryInMs: wait },
            "RabbitMQ consumer unavailable; attaching again",
          );
          const stale = this.#attachment;
          this.#attachment = undefined;
          if (stale) await closeChannel(stale);
          await sleep(wait, undefined, { signal }).catch(() => undefined);
        }
      }
    })().finally(() => {
      this.#attaching = undefined;
    });
  }

  #receive(attachment: Attachment, msg: ConsumeMessage): void {
    if (this.#stop.signal.aborted) {
      attachment.channel.nack(msg, false, true);
      return;
    }
    let event: CloudEvent;
    try {
      event = decodeFromStorage(msg.content);
    } catch (error) {
      // Not an Eventail event: redelivering it would fail the same way forever.
      this.#p.logger.error(
        { err: error, stream: this.#p.stream, consumer: this.#p.consumer },
        "dropping undecodable RabbitMQ message",
      );
      attachment.channel.nack(msg, false, false);
      return;
    }
    const key = event.attributes["partitionkey"];
    const lane = !this.#p.options.ordered
      ? String(this.#nextLane++)
      : key === undefined
        ? NO_PARTITION_KEY
        : String(key);
    this.#lanes.push(lane, {
      tracked: attachment.acks.track(msg),
      attachment,
      event,
      deliveryCount: deliveryCountOf(msg),
      abandoned: false,
    });
  }

  async #deliver(delivery: Delivery): Promise<void> {
    const { event, attachment } = delivery;
    const { handler, options, settings, logger } = this.#p;
    const live = () => !delivery.abandoned && attachment.open;
    // RabbitMQ has no ack timer to refresh (its consumer timeout is 30 min by default).
    const keepAlive = () => {};
    this.#running.add(delivery);
    try {
      for (let localRetries = 0; ; localRetries++) {
        const deliveryCount = delivery.deliveryCount + localRetries;
        try {
          await handler(event, { deliveryCount, keepAlive });
          if (live()) attachment.acks.ack(delivery.tracked);
          return;
        } catch (error) {
          if (!live()) return;
          logger.debug(
            { err: error, stream: this.#p.stream, consumer: this.#p.consumer, deliveryCount },
            "handler rejected; event will be redelivered",
          );
          const delay = redeliveryDelay(settings, deliveryCount);
          const waited = await sleep(delay, true, { signal: this.#stop.signal }).catch(() => false);
          if (!live()) return;
          // Unordered: back to the queue, where any process of this consumer may take it.
          // Ordered: the next event of this key must not overtake, so retry here, holding it.
          if (!options.ordered || !waited) {
            attachment.acks.nack(delivery.tracked, true);
            return;
          }
        }
      }
    } finally {
      this.#running.delete(delivery);
    }
  }
}

async function closeChannel(attachment: Attachment): Promise<void> {
  if (!attachment.open) return;
  // Finished messages must not go back to the queue with the channel.
  attachment.acks.flush();
  attachment.open = false;
  await withTimeout(attachment.channel.close(), CHANNEL_CLOSE_MS).catch(() => undefined);
}
