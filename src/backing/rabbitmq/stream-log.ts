/**
 * One RabbitMQ stream queue read as a log, the base of the journey and dead-letter stores. A
 * stream keeps what it holds after it was read (reads do not consume), so every process attaches
 * its own consumer from the first offset, applies each message to an in-memory index, and
 * stays attached for what later processes append; after a lost channel or connection it resumes
 * at the offset after the last one it applied.
 *
 * `appendAndApply` is read-your-writes: it appends a message under a unique message id and waits
 * until this process's reader has applied it, answering what applying it returned. Because a
 * stream is totally ordered, the index at that point holds everything any process had confirmed
 * before the append, and the answer is decided by log order alone (two processes removing one
 * entry: whichever tombstone comes first removes it). A read that must see everything appends a
 * small sync message the same way.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from "amqplib";
import type { Logger } from "../../observability/logger.js";
import type { RabbitConnector } from "./connection.js";
import { unavailable, withTimeout } from "./connection.js";
import type { RabbitSettings } from "./settings.js";
import { onTemporaryChannel, replyCode } from "./topology.js";

/** Stream consumers must ask for a window of messages (basic.qos) and acknowledge them. */
const PREFETCH = 500;
const MAX_ATTACH_BACKOFF_MS = 5_000;
const NOT_FOUND = 404;

/** One message of the stream as the reader hands it to the index. */
export interface LogMessage {
  readonly offset: number;
  readonly content: Buffer;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly messageId: string | undefined;
}

interface Waiter<R> {
  resolve(value: { offset: number; result: R } | undefined): void;
}

interface Writer {
  readonly model: ChannelModel;
  readonly channel: ConfirmChannel;
}

export class RabbitStreamLog<R> {
  readonly #waiters = new Map<string, Waiter<R>>();
  readonly #stop = new AbortController();
  /** The offset after the last message applied. */
  #next = 0;
  #started = false;
  #reader: Channel | undefined;
  #attaching: Promise<void> | undefined;
  #writer: Promise<Writer> | undefined;
  #declared: Promise<void> | undefined;
  #declaredOn: ChannelModel | undefined;
  #unlisten: () => void = () => {};

  constructor(
    private readonly connector: RabbitConnector,
    private readonly settings: RabbitSettings,
    private readonly logger: Logger,
    readonly queue: string,
    private readonly queueArguments: Record<string, unknown>,
    private readonly apply: (message: LogMessage) => R,
    /** Forgets what was applied: the stream was deleted, so its offsets start again. */
    private readonly reset: () => void = () => {},
    /** Where a reader that applied nothing yet starts (an `x-stream-offset` value). */
    private readonly startAt: () => unknown = () => "first",
  ) {}

  /** Starts reading (once; later calls do nothing). */
  start(): void {
    if (this.#started || this.#stop.signal.aborted) return;
    this.#started = true;
    this.#unlisten = this.connector.onChange((model) => {
      if (model && !this.#reader) this.#attach();
    });
    this.#attach();
  }

  /** Appends and resolves once RabbitMQ confirmed the message (it is on disk). */
  /**
   * Appends and resolves once RabbitMQ confirmed the message (it is on disk). A message whose
   * channel or connection went before its confirm is sent again until the deadline: RabbitMQ
   * 3.10 may close a connection (541 INTERNAL_ERROR) publishing to a stream created a moment
   * ago. A message may so be stored twice; readers skip a message id they already applied.
   */
  async append(content: Buffer, headers: Record<string, unknown>, messageId?: string) {
    const what = `appending to ${this.queue}`;
    const deadline = Date.now() + this.settings.publishTimeoutMs;
    for (let failures = 0; ; failures++) {
      try {
        const model = await this.connector.connected({ timeoutMs: deadline - Date.now() });
        const writer = await withTimeout(this.#writerOn(model), deadline - Date.now(), what);
        await withTimeout(
          new Promise<void>((resolve, reject) => {
            writer.channel.sendToQueue(
              this.queue,
              content,
              { persistent: true, headers, ...(messageId === undefined ? {} : { messageId }) },
              (error: unknown) =>
                error ? reject(error instanceof Error ? error : new Error("nacked")) : resolve(),
            );
          }),
          deadline - Date.now(),
          what,
        );
        return;
      } catch (error) {
        const wait = Math.min(50 * 2 ** failures, 1_000);
        if (this.#stop.signal.aborted || Date.now() + wait >= deadline) {
          throw unavailable(what, error);
        }
        await sleep(wait);
      }
    }
  }

  /**
   * Appends, then waits (at most `timeoutMs` more) until this process applied the message.
   * Rejects as unavailable when the append failed; resolves undefined when it is stored but the
   * reader did not get to it in time.
   */
  async appendAndApply(
    content: Buffer,
    headers: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<{ offset: number; result: R } | undefined> {
    this.start();
    const messageId = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const applied = new Promise<{ offset: number; result: R } | undefined>((resolve) => {
      this.#waiters.set(messageId, { resolve });
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    try {
      await this.append(content, headers, messageId);
      return await applied;
    } finally {
      clearTimeout(timer);
      this.#waiters.delete(messageId);
    }
  }

  async close(): Promise<void> {
    this.#stop.abort();
    this.#unlisten();
    for (const waiter of this.#waiters.values()) waiter.resolve(undefined);
    const reader = this.#reader;
    this.#reader = undefined;
    const writer = await this.#writer?.catch(() => undefined);
    this.#writer = undefined;
    await Promise.all([
      reader?.close().catch(() => undefined),
      writer?.channel.close().catch(() => undefined),
    ]);
  }

  /**
   * Makes sure the stream queue exists, once per connection. Asked passively first: RabbitMQ
   * 3.10 may close a whole connection (541 INTERNAL_ERROR) when two declare one new stream at
   * once, so only a missing stream is declared, and the losing process tries again.
   */
  #declare(model: ChannelModel): Promise<void> {
    if (this.#declaredOn === model && this.#declared) return this.#declared;
    this.#declaredOn = model;
    this.#declared = (async () => {
      const exists = await onTemporaryChannel(model, (channel) => channel.checkQueue(this.queue))
        .then(() => true)
        .catch((error: unknown) => {
          if (replyCode(error) === NOT_FOUND) return false;
          throw error;
        });
      if (exists) return;
      await onTemporaryChannel(model, (channel) =>
        channel.assertQueue(this.queue, {
          durable: true,
          arguments: { "x-queue-type": "stream", ...this.queueArguments },
        }),
      );
    })();
    this.#declared.catch(() => {
      if (this.#declaredOn === model) this.#declaredOn = undefined;
    });
    return this.#declared;
  }

  #writerOn(model: ChannelModel): Promise<Writer> {
    const current = this.#writer;
    if (current) {
      // However many appends find the writer stale or failed at once, one opens the next.
      const replace = () =>
        this.#writer === current || this.#writer === undefined
          ? this.#openWriter(model)
          : this.#writerOn(model);
      return current.then((writer) => (writer.model === model ? writer : replace()), replace);
    }
    return this.#openWriter(model);
  }

  #openWriter(model: ChannelModel): Promise<Writer> {
    const opening = (async () => {
      await this.#declare(model);
      const channel = await model.createConfirmChannel();
      channel.on("error", (error: Error) => {
        this.logger.warn({ err: error, queue: this.queue }, "RabbitMQ stream writer error");
      });
      channel.on("close", () => {
        if (this.#writer === opening) this.#writer = undefined;
      });
      return { model, channel };
    })();
    this.#writer = opening;
    opening.catch(() => {
      if (this.#writer === opening) this.#writer = undefined;
    });
    return opening;
  }

  /** Attaches the reader, retrying with backoff until it works or the log closes. */
  #attach(): void {
    if (this.#attaching || this.#stop.signal.aborted) return;
    const signal = this.#stop.signal;
    this.#attaching = (async () => {
      for (let failures = 0; !signal.aborted && !this.#reader; failures++) {
        try {
          const model = await this.connector.connected({
            signal,
            timeoutMs: this.settings.subscribeTimeoutMs,
          });
          await withTimeout(this.#consume(model), this.settings.subscribeTimeoutMs);
          return;
        } catch (error) {
          if (signal.aborted) return;
          // #consume may have set a reader before it failed.
          const stale = this.#reader as Channel | undefined;
          this.#reader = undefined;
          await stale?.close().catch(() => undefined);
          const wait = Math.min(250 * 2 ** failures, MAX_ATTACH_BACKOFF_MS);
          (failures === 0 ? this.logger.warn : this.logger.debug).call(
            this.logger,
            { err: error, queue: this.queue, retryInMs: wait },
            "RabbitMQ stream reader unavailable; attaching again",
          );
          await sleep(wait, undefined, { signal }).catch(() => undefined);
        }
      }
    })().finally(() => {
      this.#attaching = undefined;
    });
  }

  async #consume(model: ChannelModel): Promise<void> {
    await this.#declare(model);
    const channel = await model.createChannel();
    this.#reader = channel;
    channel.on("error", (error: Error) => {
      this.logger.warn({ err: error, queue: this.queue }, "RabbitMQ stream reader error");
    });
    channel.on("close", () => {
      if (this.#reader !== channel) return;
      this.#reader = undefined;
      if (!this.#stop.signal.aborted && this.connector.current()) this.#attach();
    });
    await channel.prefetch(PREFETCH);
    await channel.consume(
      this.queue,
      (msg) => {
        if (msg === null) {
          // The stream was deleted: what was read from it is gone, and so is the declaration
          // this connection made; the writer declares it anew and the reader attaches again
          // from its first offset.
          this.#forgetStream();
          void channel.close().catch(() => undefined);
          return;
        }
        this.#receive(channel, msg);
      },
      {
        noAck: false,
        // Resumes after what was applied; the first attach reads from `startAt` (by default the
        // oldest message kept).
        arguments: { "x-stream-offset": this.#next === 0 ? this.startAt() : this.#next },
      },
    );
    if (this.#stop.signal.aborted) await channel.close().catch(() => undefined);
  }

  #forgetStream(): void {
    this.#declared = undefined;
    this.#declaredOn = undefined;
    this.#next = 0;
    const writer = this.#writer;
    this.#writer = undefined;
    void writer?.then((w) => w.channel.close()).catch(() => undefined);
    this.reset();
  }

  #receive(channel: Channel, msg: ConsumeMessage): void {
    channel.ack(msg);
    const headers = (msg.properties.headers ?? {}) as Record<string, unknown>;
    const offset = Number(headers["x-stream-offset"]);
    // A stream hands out whole chunks: a resumed reader may see messages it already applied.
    if (!Number.isSafeInteger(offset) || offset < this.#next) return;
    this.#next = offset + 1;
    const id = msg.properties.messageId as string | undefined;
    let result: R;
    try {
      result = this.apply({ offset, content: msg.content, headers, messageId: id });
    } catch (error) {
      this.logger.debug({ err: error, queue: this.queue, offset }, "skipping a stream message");
      return;
    }
    if (id === undefined) return;
    this.#waiters.get(id)?.resolve({ offset, result });
  }
}
