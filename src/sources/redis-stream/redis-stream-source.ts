import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { type ScriptedRedis, withScripts } from "../../backing/redis/scripts.js";
import { withAttributes } from "../../events/event.js";
import { entryToEvent, redisStreamSource } from "../../events/redis-stream-binding.js";
import type { Logger } from "../../observability/logger.js";
import type { RunnableSource } from "../registry.js";
import type { EventSink } from "../source.js";
import { type RedisConnectionSpec, redisOptions } from "./connection.js";
import {
  CLAIM_IDLE_MS,
  CLAIM_INTERVAL_MS,
  consumerNames,
  expireConsumers,
  retireConsumer,
  TOUCH_INTERVAL_MS,
  touchEntry,
} from "./group-members.js";

/** eventing-redis's RedisStreamSource (sources.knative.dev/v1alpha1). */
export interface RedisStreamSourceSpec extends RedisConnectionSpec {
  readonly stream: string;
  /** Absent: a group of this source's own (see defaultGroup). */
  readonly group?: string;
  /** Consumers reading the group at once (default 1). */
  readonly consumers?: number;
  readonly ceOverrides?: { readonly extensions?: Readonly<Record<string, string>> };
}

/** How long one XREADGROUP waits for new entries before it is issued again. */
const BLOCK_MS = 2_000;

type Entry = [id: string, fields: string[] | null];

/** The group a source without `spec.group` reads with. */
export function defaultGroup(namespace: string, name: string): string {
  return `eventail.redisstreamsource.${namespace}.${name}`;
}

/**
 * RedisStreamSource: reads `spec.stream` with a consumer group, one entry at a time per consumer
 * (XREADGROUP), hands each entry as eventing-redis's CloudEvent to the sink (the one Dispatcher,
 * with its retries and dead letters), and acknowledges it (XACK) once the delivery ended. A
 * missing group is created at `$` (new entries only) with the stream, as eventing-redis does.
 *
 * Replicas running the same source share the group, so each instance reads under consumer names
 * of its own (group-members.ts): none re-reads entries another is delivering. What an instance
 * leaves pending when it goes away (a crash, or a delivery shutdown cut short, which it hands
 * back at once) is claimed by a live consumer once idle (XAUTOCLAIM), so it is delivered again,
 * at least once, whichever replica is left.
 */
export class RedisStreamSource implements RunnableSource {
  private readonly stopping = new AbortController();
  /** Connections blocked in XREADGROUP; those delivering an entry are left to finish it. */
  private readonly blocked = new Set<Redis>();
  private loops: Promise<void>[] = [];
  private readonly connected: boolean[];
  private readonly consumers: string[];
  private readonly source: string;
  private readonly group: string;

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly spec: RedisStreamSourceSpec,
    private readonly secretValue: (name: string, key: string) => string | undefined,
    private readonly logger: Logger,
  ) {
    this.source = redisStreamSource(spec.address, spec.stream);
    this.group = spec.group || defaultGroup(namespace, name);
    this.consumers = consumerNames(this.group, Math.max(1, spec.consumers ?? 1));
    this.connected = this.consumers.map(() => false);
  }

  async start(sink: EventSink): Promise<void> {
    // Fails here, before any loop runs, when a Secret the connection needs is missing.
    redisOptions(this.spec, this.secretValue);
    this.loops = this.consumers.map((consumer, index) => this.consume(sink, consumer, index));
  }

  /** True while every consumer reads the stream. */
  ready(): boolean {
    return this.connected.every(Boolean);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    // A consumer blocked in XREADGROUP returns at once when its connection goes.
    for (const reader of this.blocked) reader.disconnect();
    await Promise.all(this.loops);
    if (this.loops.length > 0) await this.retire();
  }

  private async consume(sink: EventSink, consumer: string, index: number): Promise<void> {
    const { stream } = this.spec;
    const { signal } = this.stopping;
    let delay = 500;
    while (!signal.aborted) {
      // Blocking reads hold their connection, so each consumer gets one of its own.
      const reader = withScripts(
        new Redis(this.spec.address, redisOptions(this.spec, this.secretValue, BLOCK_MS)),
      );
      reader.on("error", () => undefined);
      try {
        await reader.xgroup("CREATE", stream, this.group, "$", "MKSTREAM").catch((error: Error) => {
          if (!error.message.includes("BUSYGROUP")) throw error;
        });
        this.connected[index] = true;
        delay = 500;
        // "0" reads this consumer's own unacknowledged entries first (after a reconnect); then
        // ">" the new ones.
        let cursor = "0";
        let claimAt = 0;
        while (!signal.aborted) {
          if (Date.now() >= claimAt) {
            if (!(await this.claimIdle(reader, sink, consumer))) return;
            if (index === 0) await expireConsumers(reader, stream, this.group);
            claimAt = Date.now() + CLAIM_INTERVAL_MS;
            continue;
          }
          this.blocked.add(reader);
          const reply = (await reader.xreadgroup(
            "GROUP",
            this.group,
            consumer,
            "COUNT",
            1,
            "BLOCK",
            BLOCK_MS,
            "STREAMS",
            stream,
            cursor,
          )) as Array<[string, Entry[]]> | null;
          this.blocked.delete(reader);
          const entries = reply?.[0]?.[1] ?? [];
          if (cursor === "0" && entries.length === 0) cursor = ">";
          for (const [id, fields] of entries) {
            if (!(await this.handle(reader, sink, consumer, id, fields))) return;
          }
        }
      } catch (error) {
        if (signal.aborted) break;
        this.connected[index] = false;
        this.logger.warn(
          { err: error, consumer, retryInMs: delay },
          "Redis stream consumer failed",
        );
        await sleep(delay, undefined, { signal }).catch(() => undefined);
        delay = Math.min(delay * 2, 30_000);
      } finally {
        this.blocked.delete(reader);
        reader.disconnect();
      }
    }
    this.connected[index] = false;
  }

  /**
   * Claims, one at a time, the entries of this group idle past CLAIM_IDLE_MS (left by a consumer
   * that went away: a stopped or crashed replica, or a consumer beyond a lowered `consumers`)
   * and delivers them. False when shutdown cut a delivery short.
   */
  private async claimIdle(
    reader: ScriptedRedis,
    sink: EventSink,
    consumer: string,
  ): Promise<boolean> {
    const { stream } = this.spec;
    let start = "0-0";
    do {
      const [next, entries] = (await reader.xautoclaim(
        stream,
        this.group,
        consumer,
        CLAIM_IDLE_MS,
        start,
        "COUNT",
        1,
      )) as [string, Array<Entry | null>];
      for (const entry of entries) {
        // Redis 6.2 answers an entry deleted from the stream with nil (7 drops it from the list).
        if (!entry) continue;
        const [id, fields] = entry;
        this.logger.info({ consumer, id }, "claimed a Redis stream entry left pending");
        if (!(await this.handle(reader, sink, consumer, id, fields))) return false;
      }
      start = next;
    } while (start !== "0-0" && !this.stopping.signal.aborted);
    return true;
  }

  /**
   * Delivers one entry and acknowledges it. While it is delivered (retries and backoff may take
   * long) it is touched so that no other replica claims it. False when shutdown cut the delivery
   * short: the entry stays pending, handed back for another consumer to claim at once.
   */
  private async handle(
    reader: ScriptedRedis,
    sink: EventSink,
    consumer: string,
    id: string,
    fields: string[] | null,
  ): Promise<boolean> {
    const { stream } = this.spec;
    // A pending entry deleted from the stream (XDEL, trimming) comes back without fields.
    if (fields !== null) {
      const touch = (idleMs: number) =>
        touchEntry(reader, stream, this.group, consumer, id, idleMs).catch(() => false);
      const touching = setInterval(() => void touch(0), TOUCH_INTERVAL_MS);
      let delivered: boolean;
      try {
        delivered = await this.deliver(sink, id, fields);
      } finally {
        clearInterval(touching);
      }
      if (!delivered) {
        await touch(CLAIM_IDLE_MS);
        return false;
      }
    }
    await reader.xack(stream, this.group, id);
    return true;
  }

  /**
   * Removes this instance's consumers from the group, each only when it owns nothing; one that
   * still owns entries stays until they are claimed and it expires (CONSUMER_EXPIRY_MS).
   */
  private async retire(): Promise<void> {
    const redis = withScripts(
      new Redis(this.spec.address, redisOptions(this.spec, this.secretValue)),
    );
    redis.on("error", () => undefined);
    try {
      for (const consumer of this.consumers) {
        await retireConsumer(redis, this.spec.stream, this.group, consumer);
      }
    } catch (error) {
      this.logger.debug({ err: error }, "Redis stream consumers not removed on stop");
    } finally {
      redis.disconnect();
    }
  }

  /** False when shutdown cut the delivery short: the entry stays pending, unacknowledged. */
  private async deliver(sink: EventSink, id: string, fields: string[]): Promise<boolean> {
    let event = entryToEvent(this.source, id, fields);
    const extensions = this.spec.ceOverrides?.extensions;
    if (extensions) event = withAttributes(event, extensions);
    const outcome = await sink(event);
    return outcome.kind !== "dropped" || outcome.reason !== "shutdown";
  }
}
