import type { Channel, ChannelModel } from "amqplib";
import type { Logger } from "../../observability/logger.js";
import { bindingPattern, exchangeName, queueName } from "./naming.js";
import type { RabbitSettings } from "./settings.js";

/** What one consumer's queue looks like on the engine. */
export interface QueueShape {
  readonly stream: string;
  readonly consumer: string;
  /** Ordered consumers get a single-active-consumer queue (see declareConsumerQueue). */
  readonly ordered: boolean;
  readonly typeHint?: string | undefined;
}

/** AMQP reply code of a redeclaration whose arguments differ from the existing queue's. */
const PRECONDITION_FAILED = 406;
const NOT_FOUND = 404;

export function declareExchange(channel: Channel, stream: string): Promise<unknown> {
  return channel.assertExchange(exchangeName(stream), "topic", { durable: true });
}

/** Runs `work` on a channel of its own, closed afterwards (a failed command closes it anyway). */
export async function onTemporaryChannel<T>(
  model: ChannelModel,
  work: (channel: Channel) => Promise<T>,
): Promise<T> {
  const channel = await model.createChannel();
  channel.on("error", () => undefined);
  try {
    return await work(channel);
  } finally {
    await channel.close().catch(() => undefined);
  }
}

/**
 * Declares the stream's exchange and the consumer's durable queue, bound to it by the type hint
 * (or '#'). Ordered consumers get `x-single-active-consumer`: RabbitMQ then feeds one process at
 * a time, in queue order, and hands over to another only when that one goes, so ordering per
 * partitionkey holds across a scale-out (the process orders keys in lanes of its own).
 *
 * Queue arguments cannot change after creation: a consumer whose ordering mode changed keeps the
 * queue it has (and its events) and says so, rather than dropping it.
 */
export async function declareConsumerQueue(
  model: ChannelModel,
  settings: RabbitSettings,
  shape: QueueShape,
  logger: Logger,
): Promise<string> {
  const queue = queueName(shape.stream, shape.consumer);
  const exchange = exchangeName(shape.stream);
  const pattern = bindingPattern(shape.typeHint);
  await onTemporaryChannel(model, async (channel) => {
    await declareExchange(channel, shape.stream);
    try {
      await channel.assertQueue(queue, {
        durable: true,
        arguments: {
          "x-queue-type": settings.queueType,
          "x-expires": settings.queueExpiresMs,
          ...(shape.ordered ? { "x-single-active-consumer": true } : {}),
        },
      });
    } catch (error) {
      if (replyCode(error) !== PRECONDITION_FAILED) throw error;
      logger.warn(
        { queue, ordered: shape.ordered },
        "RabbitMQ queue exists with other arguments (ordering mode or queue type changed); keeping it",
      );
    }
  });
  await onTemporaryChannel(model, async (channel) => {
    await channel.checkQueue(queue);
    await channel.bindQueue(queue, exchange, pattern);
    // A hint replaces the catch-all binding; one left from an earlier hint only lets through
    // events the trigger's filter then drops.
    if (pattern !== "#") await channel.unbindQueue(queue, exchange, "#");
  });
  return queue;
}

/** Deletes the consumer's queue; no such queue is not an error. */
export async function deleteConsumerQueue(
  model: ChannelModel,
  stream: string,
  consumer: string,
): Promise<void> {
  await onTemporaryChannel(model, (channel) => channel.deleteQueue(queueName(stream, consumer)));
}

/** Deletes the stream's exchange; no such exchange is not an error. */
export async function deleteExchange(model: ChannelModel, stream: string): Promise<void> {
  await onTemporaryChannel(model, (channel) => channel.deleteExchange(exchangeName(stream))).catch(
    (error: unknown) => {
      if (replyCode(error) !== NOT_FOUND) throw error;
    },
  );
}

export function replyCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}
