import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { withAttributes } from "../../events/event.js";
import { entryToEvent, redisStreamSource } from "../../events/redis-stream-binding.js";
import type { Logger } from "../../observability/logger.js";
import type { RunnableSource } from "../registry.js";
import type { EventSink } from "../source.js";
import { type RedisConnectionSpec, redisOptions } from "./connection.js";

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
/** Pending entries of a retired consumer claimed per XCLAIM. */
const ADOPT_BATCH = 100;

type Entry = [id: string, fields: string[] | null];

/** The group a source without `spec.group` reads with. */
export function defaultGroup(namespace: string, name: string): string {
  return `eventail.redisstreamsource.${namespace}.${name}`;
}

/**
 * RedisStreamSource: reads `spec.stream` with a consumer group, one entry at a time per consumer
 * (XREADGROUP), hands each entry as eventing-redis's CloudEvent to the sink (the one Dispatcher,
 * with its retries and dead letters), and acknowledges it (XACK) once the delivery ended. An
 * entry whose delivery shutdown cut short stays pending and is read again first on the next start
 * (by a consumer of the same index, or by consumer 0 when `consumers` was lowered: adoptRetired).
 * A missing group is created at `$` (new entries only) with the stream, as eventing-redis does.
 */
export class RedisStreamSource implements RunnableSource {
  private readonly stopping = new AbortController();
  /** Connections blocked in XREADGROUP; those delivering an entry are left to finish it. */
  private readonly blocked = new Set<Redis>();
  private loops: Promise<void>[] = [];
  private readonly connected: boolean[];
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
    this.connected = new Array(Math.max(1, spec.consumers ?? 1)).fill(false);
  }

  async start(sink: EventSink): Promise<void> {
    // Fails here, before any loop runs, when a Secret the connection needs is missing.
    redisOptions(this.spec, this.secretValue);
    this.loops = this.connected.map((_, index) =>
      this.consume(sink, `${this.group}-${index}`, index),
    );
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
  }

  private async consume(sink: EventSink, consumer: string, index: number): Promise<void> {
    const { stream } = this.spec;
    const { signal } = this.stopping;
    let delay = 500;
    while (!signal.aborted) {
      // Blocking reads hold their connection, so each consumer gets one of its own.
      const reader = new Redis(
        this.spec.address,
        redisOptions(this.spec, this.secretValue, BLOCK_MS),
      );
      reader.on("error", () => undefined);
      try {
        await reader.xgroup("CREATE", stream, this.group, "$", "MKSTREAM").catch((error: Error) => {
          if (!error.message.includes("BUSYGROUP")) throw error;
        });
        // Before its first read of its own pending entries, which then include the adopted ones.
        if (index === 0) await this.adoptRetired(reader, consumer);
        this.connected[index] = true;
        delay = 500;
        // "0" reads this consumer's own unacknowledged entries first; then ">" the new ones.
        let cursor = "0";
        while (!signal.aborted) {
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
            // A pending entry deleted from the stream (XDEL, trimming) comes back without fields.
            if (fields !== null && !(await this.deliver(sink, id, fields))) return;
            await reader.xack(stream, this.group, id);
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
   * After `spec.consumers` was lowered, the entries pending for this group's consumers beyond
   * the new count (`${group}-${k}`, k >= count) would never be read again: only a consumer's
   * own pending entries are re-read. They are claimed for `to` (which reads them next, so a
   * delivery may repeat but none is lost), and each such consumer, once it owns nothing, is
   * removed from the group.
   */
  private async adoptRetired(reader: Redis, to: string): Promise<void> {
    const { stream } = this.spec;
    const prefix = `${this.group}-`;
    const consumers = (await reader.xinfo("CONSUMERS", stream, this.group)) as unknown[][];
    for (const info of consumers) {
      const name = String(info[info.indexOf("name") + 1]);
      const suffix = name.slice(prefix.length);
      if (!name.startsWith(prefix) || !/^\d+$/.test(suffix)) continue;
      if (Number(suffix) < this.connected.length) continue;
      for (;;) {
        const pending = (await reader.xpending(
          stream,
          this.group,
          "-",
          "+",
          ADOPT_BATCH,
          name,
        )) as Array<[id: string, ...unknown[]]>;
        if (pending.length === 0) break;
        const ids = pending.map(([id]) => id);
        // JUSTID moves ownership without counting a delivery; an entry deleted from the stream
        // leaves the pending list (Redis 7) or comes back without fields and is acknowledged.
        await reader.xclaim(stream, this.group, to, 0, ...ids, "JUSTID");
        const left = (await reader.xpending(stream, this.group, "-", "+", 1, name)) as unknown[];
        // Nothing moved (should not happen): leave the consumer rather than loop.
        if (left.length > 0 && (left[0] as [string])[0] === ids[0]) break;
      }
      const owned = (await reader.xpending(stream, this.group, "-", "+", 1, name)) as unknown[];
      if (owned.length > 0) continue;
      await reader.xgroup("DELCONSUMER", stream, this.group, name);
      this.logger.info({ consumer: name, to }, "retired Redis stream consumer's entries adopted");
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
