import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import type { Logger } from "../../observability/logger.js";
import type { MessageHandler, MessageQueue, OutgoingMessage } from "./queue.js";

export interface RedisQueueSettings {
  readonly url: string;
  /** The stream key. */
  readonly topic: string;
  readonly consumerGroup: string;
  readonly consumer: string;
}

/** The entry field that holds a message body; an entry without it is sent as JSON of its fields. */
export const BODY_FIELD = "data";
const BLOCK_MS = 1000;

/** Fields are null for a pending entry deleted (XDEL, trimming) before it was acknowledged. */
type Entry = [id: string, fields: string[] | null];

/**
 * A Redis stream as a MessageQueue: a consumer group read one entry at a time, XACKed once
 * handled. Entries this consumer was given but never acknowledged (a crash) are handled first.
 * Replies and errors are XADDed as entries with `data` plus one field per header.
 */
export class RedisQueue implements MessageQueue {
  private readonly writer: Redis;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly settings: RedisQueueSettings,
    private readonly logger: Logger,
  ) {
    this.writer = new Redis(settings.url, { lazyConnect: true, maxRetriesPerRequest: 3 });
    this.writer.on("error", () => undefined);
  }

  start(handler: MessageHandler): void {
    this.loop ??= this.consumeLoop(handler);
  }

  async publish(topic: string, message: OutgoingMessage): Promise<void> {
    const fields: string[] = [];
    for (const [name, value] of Object.entries(message.headers)) {
      if (name !== BODY_FIELD) fields.push(name, value);
    }
    await this.writer.xadd(topic, "*", BODY_FIELD, message.body, ...fields);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    this.writer.disconnect();
  }

  private async consumeLoop(handler: MessageHandler): Promise<void> {
    const { topic, consumerGroup, consumer } = this.settings;
    let delay = 500;
    while (!this.stopping.signal.aborted) {
      // Blocking reads hold their connection, so they get one of their own.
      const reader = new Redis(this.settings.url, { maxRetriesPerRequest: 1 });
      reader.on("error", () => undefined);
      try {
        await reader
          .xgroup("CREATE", topic, consumerGroup, "0", "MKSTREAM")
          .catch((error: Error) => {
            if (!error.message.includes("BUSYGROUP")) throw error;
          });
        let cursor = "0";
        delay = 500;
        while (!this.stopping.signal.aborted) {
          const reply = (await reader.xreadgroup(
            "GROUP",
            consumerGroup,
            consumer,
            "COUNT",
            1,
            "BLOCK",
            BLOCK_MS,
            "STREAMS",
            topic,
            cursor,
          )) as Array<[string, Entry[]]> | null;
          const entries = reply?.[0]?.[1] ?? [];
          // "0" replays our own unacknowledged entries; once none are left, read new ones.
          if (cursor === "0" && entries.length === 0) cursor = ">";
          for (const [id, fields] of entries) {
            if (fields === null) {
              // Nothing left to handle: acknowledged, or replaying from "0" meets it forever.
              this.logger.warn({ id, topic }, "Redis stream: a pending entry was deleted; skipped");
              await reader.xack(topic, consumerGroup, id);
            } else if (await this.handle(id, fields, handler)) {
              await reader.xack(topic, consumerGroup, id);
            } else if (this.stopping.signal.aborted) break;
          }
        }
      } catch (error) {
        if (this.stopping.signal.aborted) break;
        this.logger.warn({ err: error, retryInMs: delay }, "Redis stream consumer failed");
        await sleep(delay, undefined, { signal: this.stopping.signal }).catch(() => undefined);
        delay = Math.min(delay * 2, 30_000);
      } finally {
        reader.disconnect();
      }
    }
  }

  private handle(id: string, fields: string[], handler: MessageHandler): Promise<boolean> {
    const values: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) values[fields[i]!] = fields[i + 1]!;
    const body = values[BODY_FIELD];
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(values)) {
      if (name !== BODY_FIELD) headers[name.toLowerCase()] = value;
    }
    return handler({
      id,
      topic: this.settings.topic,
      body: Buffer.from(body ?? JSON.stringify(values), "utf8"),
      headers: body === undefined ? {} : headers,
    });
  }
}
