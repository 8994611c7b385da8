import { setTimeout as delay } from "node:timers/promises";
import type { Redis } from "ioredis";
import { type CloudEvent, eventLogFields } from "../../events/event.js";
import { decodeFromStorage } from "../../events/json-format.js";
import type { Logger } from "../../observability/logger.js";
import type { ConsumeHandler, SubscribeOptions, Subscription } from "../backing.js";
import { unavailable, waitUntilReady, withDeadline } from "./connection.js";
import { DeliveryWindow, type HeldEntry } from "./delivery-window.js";
import { consumerMemberName, EVENT_FIELD, removedGroupKey } from "./keys.js";
import type { ScriptedRedis } from "./scripts.js";
import type { RedisSettings } from "./settings.js";
import type { StreamNotifier } from "./stream-notifier.js";
import { TickBatch } from "./tick-batch.js";

export interface SubscriptionDeps {
  readonly commands: ScriptedRedis;
  /**
   * How the subscription learns of new entries: a connection of its own to block in XREADGROUP
   * on (one of the process's few dedicated readers), or the process's shared notifier.
   */
  readonly reader: { readonly dedicated: Redis } | { readonly notifier: StreamNotifier };
  readonly settings: RedisSettings;
  readonly logger: Logger;
}

type RawEntry = [id: string, fields: string[]];

const DEFAULT_GRACE_MS = 10_000;

/**
 * One consumer group member: reads new entries with non-blocking XREADGROUP polls on the shared
 * command connection, sleeping on the process's StreamNotifier while there are none,
 * reclaims entries that dead members left idle, runs the handler through a DeliveryWindow and
 * acknowledges (XACK) only once the handler resolved.
 */
export class RedisSubscription implements Subscription {
  private readonly member = consumerMemberName();
  private readonly window: DeliveryWindow;
  /** Set by every wake-up: poll (again) before sleeping. */
  private news = true;
  private wakeUp: (() => void) | undefined;
  private unwatch: () => void = () => undefined;
  private readonly unoffered: string[] = [];
  private readonly acks: TickBatch<string>;
  private readonly touches: TickBatch<string>;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly log: Logger;
  private reclaimCursor = "-";
  private closing: Promise<void> | undefined;
  private fetching: Promise<void> = Promise.resolve();
  private readonly stopped = new AbortController();

  private constructor(
    private readonly deps: SubscriptionDeps,
    private readonly key: string,
    private readonly group: string,
    private readonly handler: ConsumeHandler,
    private readonly options: SubscribeOptions,
    private readonly onClosed: () => void,
  ) {
    const { batchSize } = deps.settings;
    const concurrency = Math.max(1, options.concurrency);
    // A little read-ahead hides the fetch round trip; ordered lanes may need more to find work.
    const readAhead = concurrency + Math.min(concurrency, batchSize);
    const capacity = options.ordered ? Math.max(readAhead, batchSize) : readAhead;
    this.window = new DeliveryWindow(concurrency, capacity, (entry) => this.run(entry));
    this.acks = new TickBatch((ids) => this.sendAcks(ids));
    this.touches = new TickBatch((ids) => this.sendTouches(ids, 0));
    this.log = deps.logger.child({ stream: key, consumer: group, member: this.member });
  }

  /** Creates the group at the end of the stream (or joins it) and starts reading. */
  static async start(
    deps: SubscriptionDeps,
    key: string,
    group: string,
    handler: ConsumeHandler,
    options: SubscribeOptions,
    onClosed: () => void,
  ): Promise<RedisSubscription> {
    await ensureGroup(deps.commands, key, group, "$", deps.settings.commandTimeoutMs);
    const subscription = new RedisSubscription(deps, key, group, handler, options, onClosed);
    subscription.begin();
    return subscription;
  }

  close(graceMs = DEFAULT_GRACE_MS): Promise<void> {
    this.closing ??= this.shutdown(graceMs);
    return this.closing;
  }

  private begin(): void {
    const { reader } = this.deps;
    if ("dedicated" in reader) this.fetching = this.blockingFetchLoop(reader.dedicated);
    else {
      this.unwatch = reader.notifier.watch(this.key, () => this.wake());
      this.fetching = this.fetchLoop(reader.notifier);
    }
    const { reclaimIntervalMs, reclaimIdleMs } = this.deps.settings;
    this.every(reclaimIntervalMs, () => this.reclaim());
    // Entries this process holds without a running handler are alive by definition.
    this.every(Math.max(50, Math.floor(reclaimIdleMs / 3)), () => this.holdIdleEntries());
    void this.reclaim();
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.window.stop();
    this.stopped.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.unwatch();
    this.wake();
    if ("dedicated" in this.deps.reader) this.deps.reader.dedicated.disconnect();
    await this.fetching;
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.window.whenIdle(),
      new Promise<void>((resolve) => {
        graceTimer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(graceTimer);
    await this.acks.flush();
    await this.touches.flush();
    // Whatever is still held (never started, waiting for a retry, or a handler past its grace)
    // is handed back now, so other members reclaim it on their next pass instead of after the
    // idle threshold.
    const held = [...this.window.entries().map((entry) => entry.id), ...this.unoffered];
    if (held.length > 0) await this.sendTouches(held, this.deps.settings.reclaimIdleMs);
    await this.deps.commands
      .eventailRetire(this.key, this.group, this.member)
      .catch((error: unknown) => this.log.debug({ err: error }, "redis backing: retire failed"));
    this.onClosed();
  }

  private wake(): void {
    this.news = true;
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  private async fetchLoop(notifier: StreamNotifier): Promise<void> {
    const { batchSize, blockMs } = this.deps.settings;
    const { commands } = this.deps;
    let failures = 0;
    while (this.closing === undefined) {
      if (this.window.room <= 0) {
        await this.window.whenRoom();
        continue;
      }
      if (!this.news) {
        await new Promise<void>((resolve) => {
          this.wakeUp = resolve;
        });
        continue;
      }
      // Cleared before the poll: a wake-up that arrives while it is on its way means another.
      this.news = false;
      if (!(await waitUntilReady(commands, blockMs))) {
        this.news = true;
        continue;
      }
      try {
        const count = Math.min(this.window.room, batchSize);
        const reply = await commands.eventailPoll(this.key, this.group, this.member, count);
        failures = 0;
        if (reply[0] === 1 && this.closing !== undefined) {
          // Read while closing: never offered, so handed back with what the window holds.
          for (const [id] of reply[1]) this.unoffered.push(id);
        } else if (reply[0] === 1) {
          const entries = reply[1];
          for (const [id, fields] of entries) this.accept(id, fields, 1);
          // Fewer than asked for: the read reached the stream's end, so its last entry is the
          // tail to watch from, and an empty poll to learn it would be a wasted round trip.
          if (entries.length < count && this.closing === undefined) {
            notifier.arm(this.key, entries[entries.length - 1]![0]);
          } else this.news = true;
        } else if (this.closing === undefined) {
          notifier.arm(this.key, reply[1]);
        }
      } catch (error) {
        this.news = true;
        if (this.closing !== undefined) break;
        failures++;
        if (isNoGroup(error)) await this.recreateGroup();
        else if (failures === 1) {
          this.log.warn({ err: error }, "redis backing: reading the stream failed; retrying");
        }
        await this.sleep(Math.min(100 * 2 ** failures, 2_000));
      }
    }
  }

  /** A dedicated reader: blocks in XREADGROUP on its own connection, as it always did. */
  private async blockingFetchLoop(reader: Redis): Promise<void> {
    const { batchSize, blockMs } = this.deps.settings;
    let failures = 0;
    while (this.closing === undefined) {
      if (this.window.room <= 0) {
        await this.window.whenRoom();
        continue;
      }
      if (!(await waitUntilReady(reader, blockMs))) continue;
      try {
        const reply = (await reader.xreadgroup(
          "GROUP",
          this.group,
          this.member,
          "COUNT",
          Math.min(this.window.room, batchSize),
          "BLOCK",
          blockMs,
          "STREAMS",
          this.key,
          ">",
        )) as Array<[string, RawEntry[]]> | null;
        failures = 0;
        for (const [id, fields] of reply?.[0]?.[1] ?? []) this.accept(id, fields, 1);
      } catch (error) {
        if (this.closing !== undefined) break;
        failures++;
        if (isNoGroup(error)) await this.recreateGroup();
        else {
          if (failures === 1) {
            this.log.warn({ err: error }, "redis backing: reading the stream failed; retrying");
          }
          // A read that timed out may still be queued behind a hung server: drop the socket so
          // stale blocking reads do not pile up in front of the next one.
          if (reader.status === "ready") reader.disconnect(true);
        }
        await this.sleep(Math.min(100 * 2 ** failures, 2_000));
      }
    }
  }

  /**
   * The stream or group is gone. After a Redis restart without persistence everything in the
   * stream was published since, so the new group starts from its beginning; after another
   * process removed the group (its trigger was deleted there, this process has yet to see it)
   * the deleted trigger has no use for what is already there.
   */
  private async recreateGroup(): Promise<void> {
    const { commands } = this.deps;
    const removed = await commands.exists(removedGroupKey(this.key, this.group)).catch(() => 0);
    await ensureGroup(
      commands,
      this.key,
      this.group,
      removed ? "$" : "0",
      this.deps.settings.commandTimeoutMs,
    ).catch(() => undefined);
  }

  private accept(id: string, fields: string[] | null, deliveryCount: number): void {
    if (this.window.get(id) !== undefined) return;
    let event: CloudEvent;
    try {
      event = decodeFromStorage(entryPayload(fields));
    } catch (error) {
      // An entry that cannot be decoded would be redelivered forever: log it and let it go.
      this.log.error({ err: error, entry: id }, "redis backing: undecodable stream entry dropped");
      this.acks.add(id);
      return;
    }
    const partition = event.attributes["partitionkey"];
    const lane = !this.options.ordered ? id : partition === undefined ? "" : `key:${partition}`;
    this.window.offer(id, event, lane, deliveryCount);
  }

  private run(entry: HeldEntry): void {
    const meta = {
      deliveryCount: entry.deliveryCount,
      keepAlive: () => this.keepAlive(entry),
    };
    let outcome: Promise<void>;
    try {
      outcome = this.handler(entry.event, meta);
    } catch (error) {
      outcome = Promise.reject(error);
    }
    outcome.then(
      () => {
        this.acks.add(entry.id);
        this.window.settle(entry.id);
      },
      (error: unknown) => {
        this.log.warn(
          { err: error, entry: entry.id, event: eventLogFields(entry.event) },
          "redis backing: handler failed; the event will be redelivered",
        );
        this.window.defer(entry.id);
        if (this.closing === undefined) this.scheduleRedelivery(entry.id);
      },
    );
  }

  private keepAlive(entry: HeldEntry): void {
    if (this.closing !== undefined || entry.state !== "running") return;
    const now = Date.now();
    // A touch a second keeps a slow handler's entry far from any sane reclaim threshold.
    if (now - entry.touchedAt < Math.min(1_000, this.deps.settings.reclaimIdleMs / 4)) return;
    entry.touchedAt = now;
    this.touches.add(entry.id);
  }

  private scheduleRedelivery(id: string): void {
    this.after(this.deps.settings.retryDelayMs, async () => {
      try {
        const count = await this.deps.commands.eventailRedeliver(
          this.key,
          this.group,
          this.member,
          id,
        );
        if (count > 0) this.window.resume(id, count);
        else this.window.settle(id);
      } catch (error) {
        if (isNoGroup(error)) {
          // The group is gone (Redis lost its data): the entry is no longer pending anywhere.
          // Re-created at 0 by the next read, the group hands it out again with the rest.
          this.window.settle(id);
          this.wake();
          return;
        }
        this.log.debug({ err: error, entry: id }, "redis backing: redelivery postponed");
        if (this.closing === undefined) this.scheduleRedelivery(id);
      }
    });
  }

  private async reclaim(): Promise<void> {
    const { reclaimIdleMs, batchSize } = this.deps.settings;
    try {
      for (let pass = 0; pass < 10 && this.closing === undefined && this.window.room > 0; pass++) {
        const [cursor, claimed, own] = await this.deps.commands.eventailReclaim(
          this.key,
          this.group,
          this.member,
          reclaimIdleMs,
          this.reclaimCursor,
          Math.min(this.window.room, batchSize),
        );
        this.reclaimCursor = cursor;
        for (const [id, fields, count] of claimed) this.accept(id, fields, count);
        for (const [id, count] of own) {
          if (this.window.get(id) === undefined) await this.reclaimOwn(id, count);
        }
        if (cursor === "-") break;
      }
    } catch (error) {
      // The group is gone while the fetch loop may sleep on a quiet stream: its next poll meets
      // NOGROUP too and re-creates the group.
      if (isNoGroup(error)) {
        this.wake();
        return;
      }
      this.log.debug({ err: error }, "redis backing: reclaim pass failed");
    }
  }

  /** An entry Redis says this member holds but this process lost (a read that timed out). */
  private async reclaimOwn(id: string, deliveryCount: number): Promise<void> {
    const [entry] = (await this.deps.commands.xclaim(
      this.key,
      this.group,
      this.member,
      0,
      id,
    )) as RawEntry[];
    if (entry?.[1]) this.accept(id, entry[1], deliveryCount + 1);
  }

  private async holdIdleEntries(): Promise<void> {
    const ids = this.window.idleEntries().map((entry) => entry.id);
    if (ids.length > 0) await this.sendTouches(ids, 0);
  }

  private async sendTouches(ids: string[], idleMs: number): Promise<void> {
    try {
      const lost = await this.deps.commands.eventailTouch(
        this.key,
        this.group,
        this.member,
        String(idleMs),
        ...ids,
      );
      for (const id of lost) {
        if (this.window.get(id)?.state !== "running") this.window.settle(id);
      }
    } catch (error) {
      this.log.debug({ err: error }, "redis backing: keepAlive failed");
    }
  }

  private async sendAcks(ids: string[]): Promise<void> {
    try {
      await withDeadline(
        this.deps.commands.xack(this.key, this.group, ...ids),
        this.deps.settings.commandTimeoutMs,
        "XACK",
      );
    } catch (error) {
      // Unacknowledged entries stay pending and come back through reclaim: a duplicate, not a loss.
      this.log.warn({ err: error, entries: ids.length }, "redis backing: acknowledgement failed");
    }
  }

  private every(ms: number, task: () => Promise<void>): void {
    this.after(ms, async () => {
      await task();
      if (this.closing === undefined) this.every(ms, task);
    });
  }

  private after(ms: number, task: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void task();
    }, ms);
    this.timers.add(timer);
  }

  private sleep(ms: number): Promise<void> {
    return delay(ms, undefined, { signal: this.stopped.signal }).catch(() => undefined);
  }
}

function entryPayload(fields: string[] | null): string {
  if (fields) {
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === EVENT_FIELD) return fields[i + 1]!;
    }
  }
  throw new Error(`stream entry has no ${EVENT_FIELD} field`);
}

function isNoGroup(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOGROUP");
}

/** XGROUP CREATE … MKSTREAM; an existing group (BUSYGROUP) keeps its position. */
async function ensureGroup(
  commands: ScriptedRedis,
  key: string,
  group: string,
  position: "$" | "0",
  timeoutMs: number,
): Promise<void> {
  try {
    await withDeadline(
      commands.xgroup("CREATE", key, group, position, "MKSTREAM"),
      timeoutMs,
      `creating consumer group ${group}`,
    );
  } catch (error) {
    if (error instanceof Error && error.message.startsWith("BUSYGROUP")) return;
    throw unavailable(`creating consumer group ${group} on ${key}`, error);
  }
}
