/**
 * Broker retention on RabbitMQ (CONTRACT §5, §11 replay): a stream queue per retained broker or
 * channel, bound to its exchange with '#', so it gets a copy of every event next to the triggers'
 * queues and keeps it for `x-max-age` whatever the triggers did with theirs. Adding or dropping
 * it only adds or deletes that one queue: the triggers' queues and bindings are not touched, so
 * no delivery is lost either way.
 *
 * Reading seeks a stream consumer to the window's start (x-stream-offset as a timestamp) and
 * stops at a marker this read appended to the queue first, so a busy stream cannot keep a replay
 * reading forever. Stream chunks carry second-granular times and processes' clocks differ a
 * little, so the seek starts a few seconds early and each event's own acceptance time (the
 * publisher's `timestamp_in_ms` header) decides whether it is in the window.
 */
import { randomUUID } from "node:crypto";
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import { decodeFromStorage } from "../../events/json-format.js";
import type { ArchivedEvent } from "../backing.js";
import { type RabbitConnector, unavailable, withTimeout } from "./connection.js";
import { archiveQueueName, exchangeName } from "./naming.js";
import type { RabbitSettings } from "./settings.js";
import { declareExchange, onTemporaryChannel, replyCode } from "./topology.js";

/** Header with the time (ms since the epoch) the publisher stored the event. */
export const ACCEPTED_AT_HEADER = "timestamp_in_ms";
/** Header of the end markers reads append; readers skip every marker but their own. */
const MARKER_HEADER = "eventail-archive-marker";
/** How far before the window the seek starts: chunk times are in seconds, clocks drift. */
const SEEK_EARLY_MS = 5_000;
/** Events a read holds unacknowledged from the stream before the replay took them. */
const PREFETCH = 256;
const PRECONDITION_FAILED = 406;
const NOT_FOUND = 404;

export class RetentionChangeRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RetentionChangeRefusedError";
  }
}

/** RabbitMQ's x-max-age: whole seconds, rounded up so nothing goes early. */
export function maxAge(retentionMs: number): string {
  return `${Math.max(1, Math.ceil(retentionMs / 1000))}s`;
}

/**
 * Declares (or keeps) the archive queue with the given max age, bound to the exchange.
 * RabbitMQ refuses to change a queue's arguments: another retention on a queue that exists is
 * refused with the reason, and the queue keeps the one it has.
 */
export async function retainArchive(
  model: ChannelModel,
  stream: string,
  retentionMs: number,
): Promise<void> {
  const queue = archiveQueueName(stream);
  await onTemporaryChannel(model, async (channel) => {
    await declareExchange(channel, stream);
    try {
      await channel.assertQueue(queue, {
        durable: true,
        arguments: { "x-queue-type": "stream", "x-max-age": maxAge(retentionMs) },
      });
    } catch (error) {
      if (replyCode(error) !== PRECONDITION_FAILED) throw error;
      throw new RetentionChangeRefusedError(
        `the archive queue ${queue} keeps events for another duration and RabbitMQ cannot change ` +
          `a queue's x-max-age: set a 'max-age' policy on it, or remove the retention annotation ` +
          `(which deletes what it kept) and add it again`,
      );
    }
  });
  await onTemporaryChannel(model, (channel) => channel.bindQueue(queue, exchangeName(stream), "#"));
}

/** Deletes the archive queue with what it kept; none is not an error. */
export async function deleteArchive(model: ChannelModel, stream: string): Promise<void> {
  await onTemporaryChannel(model, (channel) => channel.deleteQueue(archiveQueueName(stream)));
}

async function archiveExists(model: ChannelModel, queue: string): Promise<boolean> {
  try {
    await onTemporaryChannel(model, (channel) => channel.checkQueue(queue));
    return true;
  } catch (error) {
    if (replyCode(error) === NOT_FOUND) return false;
    throw error;
  }
}

/** Appends this read's end marker, confirmed, so everything stored before it comes first. */
async function appendMarker(model: ChannelModel, queue: string, marker: string): Promise<void> {
  const channel = await model.createConfirmChannel();
  channel.on("error", () => undefined);
  try {
    channel.sendToQueue(queue, Buffer.alloc(0), {
      persistent: true,
      headers: { [MARKER_HEADER]: marker },
    });
    await channel.waitForConfirms();
  } finally {
    await channel.close().catch(() => undefined);
  }
}

export function acceptedAt(msg: Pick<ConsumeMessage, "properties">): number | undefined {
  const at = msg.properties.headers?.[ACCEPTED_AT_HEADER];
  return typeof at === "number" && Number.isFinite(at) ? at : undefined;
}

export async function* readRabbitArchive(
  connector: RabbitConnector,
  settings: RabbitSettings,
  stream: string,
  fromMs: number,
  toMs: number,
): AsyncIterable<ArchivedEvent> {
  // Nothing was accepted in the future; a seek past the end would wait for the next publish.
  if (toMs <= fromMs || fromMs > Date.now()) return;
  const queue = archiveQueueName(stream);
  const what = `reading the archive ${queue}`;
  let channel: Channel | undefined;
  const pending: ConsumeMessage[] = [];
  let failure: unknown;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const marker = randomUUID();
  try {
    const model = await connector.connected({ timeoutMs: settings.subscribeTimeoutMs });
    if (!(await withTimeout(archiveExists(model, queue), settings.subscribeTimeoutMs, what))) {
      return;
    }
    await withTimeout(appendMarker(model, queue, marker), settings.publishTimeoutMs, what);
    const open = await model.createChannel();
    channel = open;
    open.on("error", (error: Error) => {
      failure ??= error;
      notify();
    });
    open.on("close", () => {
      ended = true;
      notify();
    });
    await open.prefetch(PREFETCH);
    const seekSeconds = Math.max(0, Math.floor((fromMs - SEEK_EARLY_MS) / 1000));
    await open.consume(
      queue,
      (msg) => {
        if (msg === null) ended = true;
        else pending.push(msg);
        notify();
      },
      {
        noAck: false,
        arguments: { "x-stream-offset": { "!": "timestamp", value: seekSeconds } },
      },
    );
    for (;;) {
      const msg = pending.shift();
      if (msg === undefined) {
        if (failure !== undefined) throw failure;
        if (ended) throw new Error("the archive consumer was closed before the read ended");
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      open.ack(msg);
      const seen = msg.properties.headers?.[MARKER_HEADER];
      if (seen !== undefined) {
        if (seen === marker) return;
        continue;
      }
      const at = acceptedAt(msg);
      if (at === undefined || at < fromMs) continue;
      // Later entries can still be a little older (another process's clock): read on a bit.
      if (at >= toMs + SEEK_EARLY_MS) return;
      if (at >= toMs) continue;
      let event: ArchivedEvent["event"];
      try {
        event = decodeFromStorage(msg.content);
      } catch {
        // Not an Eventail event: no part of the archive.
        continue;
      }
      yield { event, at };
    }
  } catch (error) {
    throw unavailable(what, error);
  } finally {
    if (channel) await withTimeout(channel.close(), 2_000).catch(() => undefined);
  }
}

/** Backing.retainStream: the archive queue declared, or deleted when retention goes. */
export async function retainRabbitStream(
  connector: RabbitConnector,
  settings: RabbitSettings,
  stream: string,
  retentionMs: number | undefined,
): Promise<void> {
  const what = `setting the retention of ${stream}`;
  try {
    const model = await connector.connected({ timeoutMs: settings.subscribeTimeoutMs });
    await withTimeout(
      retentionMs === undefined
        ? deleteArchive(model, stream)
        : retainArchive(model, stream, retentionMs),
      settings.subscribeTimeoutMs,
      what,
    );
  } catch (error) {
    if (error instanceof RetentionChangeRefusedError) throw error;
    throw unavailable(what, error);
  }
}
