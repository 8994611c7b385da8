import { setTimeout as sleep } from "node:timers/promises";
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  headers as natsHeaders,
} from "nats";
import type { Logger } from "../../observability/logger.js";
import type { MessageHandler, MessageQueue, OutgoingMessage } from "./queue.js";

export interface NatsQueueSettings {
  readonly servers: string;
  readonly topic: string;
  /** The stream holding `topic`; found by subject (or created) when absent. */
  readonly stream?: string;
  readonly consumer: string;
}

/** How long one pull waits on the server, which bounds how long stop() waits for it. */
const PULL_EXPIRES_MS = 1000;
/** Keeps a message in hand from being redelivered while its subscriber is retried. */
const WORKING_EVERY_MS = 10_000;

/** A JetStream stream name for a subject: stream names may not hold `.`, `*`, `>` or spaces. */
export function streamNameFor(subject: string): string {
  return `MQT_${subject.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

/**
 * A NATS JetStream subject as a MessageQueue: a durable pull consumer, one message at a time,
 * acknowledged once handled. Subjects without a stream get one (named MQT_<subject>), for the
 * topic and for the reply and error subjects alike, so publishing to them is acknowledged.
 */
export class NatsQueue implements MessageQueue {
  private connection:
    | Promise<{ nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager }>
    | undefined;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly streams = new Map<string, Promise<string>>();

  constructor(
    private readonly settings: NatsQueueSettings,
    private readonly logger: Logger,
  ) {}

  start(handler: MessageHandler): void {
    this.loop ??= this.consumeLoop(handler);
  }

  async publish(topic: string, message: OutgoingMessage): Promise<void> {
    const { js } = await this.connected();
    await this.streamFor(topic);
    const h = natsHeaders();
    for (const [name, value] of Object.entries(message.headers)) h.set(name, value);
    await js.publish(topic, message.body, { headers: h });
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    const connection = await this.connection?.catch(() => undefined);
    await connection?.nc.drain().catch(() => undefined);
  }

  private connected() {
    this.connection ??= (async () => {
      const nc = await connect({ servers: this.settings.servers, name: this.settings.consumer });
      return { nc, js: nc.jetstream(), jsm: await nc.jetstreamManager() };
    })().catch((error: unknown) => {
      this.connection = undefined;
      throw error;
    });
    return this.connection;
  }

  private streamFor(subject: string): Promise<string> {
    let stream = this.streams.get(subject);
    if (!stream) {
      stream = (async () => {
        const { jsm } = await this.connected();
        try {
          return await jsm.streams.find(subject);
        } catch {
          const name = streamNameFor(subject);
          await jsm.streams.add({ name, subjects: [subject] });
          this.logger.info({ stream: name, subject }, "created a JetStream stream for the subject");
          return name;
        }
      })();
      stream.catch(() => this.streams.delete(subject));
      this.streams.set(subject, stream);
    }
    return stream;
  }

  private async consumeLoop(handler: MessageHandler): Promise<void> {
    let delay = 500;
    while (!this.stopping.signal.aborted) {
      try {
        const { js, jsm } = await this.connected();
        const stream = this.settings.stream ?? (await this.streamFor(this.settings.topic));
        const durable = this.settings.consumer;
        try {
          await jsm.consumers.info(stream, durable);
        } catch {
          await jsm.consumers.add(stream, {
            durable_name: durable,
            ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.All,
            filter_subject: this.settings.topic,
          });
        }
        const consumer = await js.consumers.get(stream, durable);
        delay = 500;
        while (!this.stopping.signal.aborted) {
          const message = await consumer.next({ expires: PULL_EXPIRES_MS });
          if (message) await this.handle(message, handler);
        }
      } catch (error) {
        if (this.stopping.signal.aborted) return;
        this.logger.warn({ err: error, retryInMs: delay }, "NATS consumer failed");
        await sleep(delay, undefined, { signal: this.stopping.signal }).catch(() => undefined);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  private async handle(message: JsMsg, handler: MessageHandler): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [name, values] of message.headers ?? []) {
      headers[name.toLowerCase()] = values.join(", ");
    }
    const working = setInterval(() => message.working(), WORKING_EVERY_MS);
    try {
      const finished = await handler({
        id: `${message.info.stream}/${message.seq}`,
        topic: message.subject,
        body: Buffer.from(message.data),
        headers,
      });
      if (finished) message.ack();
      else message.nak();
    } finally {
      clearInterval(working);
    }
  }
}
