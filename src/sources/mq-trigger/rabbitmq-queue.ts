import { setTimeout as sleep } from "node:timers/promises";
import {
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  connect,
} from "amqplib";
import type { Logger } from "../../observability/logger.js";
import type { MessageHandler, MessageQueue, OutgoingMessage } from "./queue.js";

export interface RabbitQueueSettings {
  readonly url: string;
  /** The queue read (declared durable if missing); replies and errors go to queues too. */
  readonly topic: string;
}

/**
 * A RabbitMQ queue as a MessageQueue: one message at a time (prefetch 1), acked once handled,
 * so a crash hands the message in hand back to the queue. Replies and errors are sent to the
 * durable queues named by respTopic and errorTopic (through the default exchange), headers as
 * AMQP headers, persistent, after the publisher confirm. A consumer the server ends (a channel
 * error, the queue deleted) is started again, the queue declared again.
 */
export class RabbitQueue implements MessageQueue {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private model: ChannelModel | undefined;
  private publisher: Promise<ConfirmChannel> | undefined;
  private readonly declared = new Set<string>();

  constructor(
    private readonly settings: RabbitQueueSettings,
    private readonly logger: Logger,
  ) {}

  start(handler: MessageHandler): void {
    this.loop ??= this.consumeLoop(handler);
  }

  async publish(topic: string, message: OutgoingMessage): Promise<void> {
    const model = this.model;
    if (!model) throw new Error("RabbitMQ is not connected");
    const channel = await this.publishingChannel(model);
    if (!this.declared.has(topic)) {
      await channel.assertQueue(topic, { durable: true });
      this.declared.add(topic);
    }
    channel.sendToQueue(topic, message.body, {
      persistent: true,
      headers: { ...message.headers },
      ...(message.headers["content-type"] ? { contentType: message.headers["content-type"] } : {}),
    });
    await channel.waitForConfirms();
  }

  /**
   * The confirm channel replies go out on. A refused publish (a queue name RabbitMQ does not
   * allow, say) closes it, so it is forgotten on close and the next publish opens another.
   */
  private publishingChannel(model: ChannelModel): Promise<ConfirmChannel> {
    if (this.publisher) return this.publisher;
    const forget = () => {
      if (this.publisher === publisher) this.publisher = undefined;
    };
    const publisher = model.createConfirmChannel().then((channel) => {
      channel.on("error", () => undefined);
      channel.on("close", forget);
      return channel;
    });
    publisher.catch(forget);
    this.publisher = publisher;
    return publisher;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.model?.close().catch(() => undefined);
    await this.loop;
  }

  private async consumeLoop(handler: MessageHandler): Promise<void> {
    let delay = 500;
    while (!this.stopping.signal.aborted) {
      let model: ChannelModel | undefined;
      try {
        model = await connect(this.settings.url, { timeout: 5_000 });
        model.on("error", () => undefined);
        let connectionClosed = false;
        const closed = new Promise<"closed">((resolve) =>
          model!.on("close", () => {
            connectionClosed = true;
            resolve("closed");
          }),
        );
        this.model = model;
        this.publisher = undefined;
        this.declared.clear();
        // The consuming channel can end while the connection stays up: the server closes it
        // on a channel error, or cancels the consumer (its queue deleted). Then another channel
        // consumes, on the same connection; only the connection's end means reconnecting.
        for (;;) {
          const consumer = await this.consume(model, handler);
          delay = 500;
          if ((await Promise.race([closed, consumer.ended])) === "closed") break;
          await consumer.close();
          if (connectionClosed || this.stopping.signal.aborted) break;
          this.logger.warn({ queue: this.settings.topic }, "RabbitMQ queue consumer ended");
          // Not a tight loop when the server ends every consumer at once.
          await sleep(500, undefined, { signal: this.stopping.signal }).catch(() => undefined);
          if (connectionClosed || this.stopping.signal.aborted) break;
        }
        this.model = undefined;
      } catch (error) {
        this.model = undefined;
        // A connection whose setup failed half-way is not left open.
        await model?.close().catch(() => undefined);
        if (this.stopping.signal.aborted) break;
        this.logger.warn({ err: error, retryInMs: delay }, "RabbitMQ queue consumer failed");
        await sleep(delay, undefined, { signal: this.stopping.signal }).catch(() => undefined);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  /**
   * Consumes the queue on a channel of its own (declaring the queue again, as after a delete).
   * `ended` resolves when the channel closes or the server cancels the consumer; close() waits
   * for the message in hand (so its ack is not lost) and closes the channel.
   */
  private async consume(
    model: ChannelModel,
    handler: MessageHandler,
  ): Promise<{ ended: Promise<"ended">; close(): Promise<void> }> {
    const channel = await model.createChannel();
    channel.on("error", () => undefined);
    let end: () => void = () => undefined;
    const ended = new Promise<"ended">((resolve) => {
      end = () => resolve("ended");
    });
    channel.on("close", () => end());
    let inHand: Promise<void> = Promise.resolve();
    await channel.assertQueue(this.settings.topic, { durable: true });
    await channel.prefetch(1);
    await channel.consume(
      this.settings.topic,
      (msg) => {
        // null: the server cancelled the consumer.
        if (msg) {
          inHand = this.handle(channel, msg, handler).catch((error: unknown) => {
            this.logger.warn({ err: error }, "RabbitMQ queue: handling a message failed");
          });
        } else end();
      },
      { noAck: false },
    );
    return {
      ended,
      close: async () => {
        await inHand;
        await channel.close().catch(() => undefined);
      },
    };
  }

  private async handle(channel: Channel, msg: ConsumeMessage, handler: MessageHandler) {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(msg.properties.headers ?? {})) {
      if (value !== undefined && value !== null && typeof value !== "object") {
        headers[name.toLowerCase()] = String(value);
      } else if (Buffer.isBuffer(value)) headers[name.toLowerCase()] = value.toString("utf8");
    }
    if (typeof msg.properties.contentType === "string") {
      headers["content-type"] ??= msg.properties.contentType;
    }
    const handled = await handler({
      id: String(msg.properties.messageId ?? msg.fields.deliveryTag),
      topic: this.settings.topic,
      body: msg.content,
      headers,
    });
    try {
      // Not handled (shutdown): left unacked; the closing channel hands it back to the queue.
      if (handled) channel.ack(msg);
    } catch {
      // The channel closed meanwhile: RabbitMQ requeued the message.
    }
  }
}
