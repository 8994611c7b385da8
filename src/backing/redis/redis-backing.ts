import type { CloudEvent } from "../../events/event.js";
import { decodeFromStorage, encodeForStorage } from "../../events/json-format.js";
import type { Logger } from "../../observability/logger.js";
import type {
  Archive,
  ArchivedEvent,
  Backing,
  ConsumeHandler,
  SubscribeOptions,
  Subscription,
} from "../backing.js";
import {
  closeConnection,
  createRedisConnection,
  unavailable,
  waitUntilReady,
  withDeadline,
} from "./connection.js";
import { RedisDeadLetterStore } from "./dead-letter-store.js";
import { RedisEventTypeStore } from "./event-type-store.js";
import { RedisJourneyStore } from "./journey-store.js";
import {
  EVENT_FIELD,
  groupName,
  REMOVED_GROUP_MARK_MS,
  removedGroupKey,
  streamKey,
} from "./keys.js";
import { RedisReplayStore } from "./replay-store.js";
import { type ScriptedRedis, withScripts } from "./scripts.js";
import type { RedisSettings } from "./settings.js";
import { StreamNotifier } from "./stream-notifier.js";
import { RedisSubscription, type SubscriptionDeps } from "./subscription.js";
import { TickBatch } from "./tick-batch.js";

/** Entries per XRANGE when reading the archive. */
const ARCHIVE_PAGE = 500;

/** One publish waiting for its tick's APPEND call. */
interface PendingAppend {
  readonly key: string;
  readonly payloads: string[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Redis Streams backing: one stream per broker or channel (`eventail:<stream>`), one consumer
 * group per trigger or subscription, one group member per subscription of each process.
 */
export class RedisBacking implements Backing {
  readonly kind = "redis";
  private readonly commands: ScriptedRedis;
  private readonly subscriptions = new Set<RedisSubscription>();
  /** Stream key → how many of this process's subscriptions read it. */
  private readonly readers = new Map<string, number>();
  /** Stream keys this process uses; it trims them now and then. */
  private readonly streams = new Set<string>();
  /** Stream keys with `eventail.io/retention`: trimmed by time rather than by acknowledgements. */
  private readonly retention = new Map<string, number>();
  private readonly maintenance: NodeJS.Timeout;
  /** Per stream key: entries appended since its last trim, and when an early trim may run. */
  private readonly appended = new Map<string, { count: number; notBefore: number }>();
  private closing: Promise<void> | undefined;
  /** The publishes of one tick, stored by one APPEND script call. */
  private readonly appends = new TickBatch<PendingAppend>((batch) => this.sendAppends(batch), 500);
  /** Made with the first subscription: a process that only publishes needs no second connection. */
  private notifier: StreamNotifier | undefined;
  /** Subscriptions holding a blocking connection of their own (settings.dedicatedReaders). */
  private dedicatedReaders = 0;
  /** Journeys live next to the streams, on the same connection (journey-store.ts says how). */
  readonly journeys: RedisJourneyStore;
  /** Dead letters too (dead-letter-store.ts). */
  readonly deadLetters: RedisDeadLetterStore;
  /** Auto-created EventTypes, on the same connection (event-type-store.ts says how). */
  readonly eventTypes: RedisEventTypeStore;
  readonly replays: RedisReplayStore;

  constructor(
    private readonly settings: RedisSettings,
    private readonly logger: Logger,
  ) {
    this.commands = withScripts(createRedisConnection(settings, logger, "commands"));
    this.journeys = new RedisJourneyStore(this.commands, logger);
    this.deadLetters = new RedisDeadLetterStore(this.commands, settings.commandTimeoutMs);
    this.eventTypes = new RedisEventTypeStore(this.commands);
    this.replays = new RedisReplayStore(this.commands);
    this.maintenance = setInterval(() => void this.maintain(), settings.trimIntervalMs);
    this.maintenance.unref();
  }

  /**
   * Waits for the first connection attempt, so a fresh backing can publish at once; a server
   * that is down is not an error here (reconnects continue in the background).
   */
  async connect(): Promise<void> {
    await waitUntilReady(this.commands, this.settings.commandTimeoutMs, { untilError: true });
  }

  async publish(stream: string, events: readonly CloudEvent[]): Promise<void> {
    if (events.length === 0) return;
    const key = streamKey(stream);
    this.streams.add(key);
    const what = `storing ${events.length} event(s) on ${key}`;
    if (this.closing !== undefined) throw unavailable(what, new Error("backing closed"));
    try {
      await withDeadline(this.append(key, events), this.settings.commandTimeoutMs + 500, what);
    } catch (error) {
      throw unavailable(what, error);
    }
    this.countAppended(key, events.length);
  }

  /**
   * Trims a busy stream once trimAfterEntries accumulated, not only every trimIntervalMs: XTRIM
   * holds up every client of the server while it frees entries, so small steps stall it less
   * than one trim of a burst's backlog. MAINTAIN also walks every group and member, so an early
   * trim waits at least a second and 100 times what the last one took.
   */
  private countAppended(key: string, count: number): void {
    let state = this.appended.get(key);
    if (state === undefined) {
      state = { count: 0, notBefore: 0 };
      this.appended.set(key, state);
    }
    state.count += count;
    const now = Date.now();
    if (state.count < this.settings.trimAfterEntries || now < state.notBefore) return;
    state.count = 0;
    state.notBefore = Number.POSITIVE_INFINITY;
    const trimmed = state;
    void withDeadline(this.maintainOne(key), this.settings.commandTimeoutMs, `trimming ${key}`)
      .catch((error: unknown) => {
        this.logger.debug({ err: error, stream: key }, "redis backing: trimming failed");
      })
      .finally(() => {
        const took = Date.now() - now;
        trimmed.notBefore = Date.now() + Math.max(1_000, 100 * took);
      });
  }

  async subscribe(
    stream: string,
    name: string,
    handler: ConsumeHandler,
    options: SubscribeOptions,
  ): Promise<Subscription> {
    if (this.closing !== undefined) throw unavailable(`subscribing ${name}`, "backing closed");
    const key = streamKey(stream);
    this.streams.add(key);
    const dedicated = this.dedicatedReaders < this.settings.dedicatedReaders;
    if (dedicated) this.dedicatedReaders++;
    const reader: SubscriptionDeps["reader"] = dedicated
      ? { dedicated: createRedisConnection(this.settings, this.logger, "fetch") }
      : { notifier: this.streamNotifier() };
    const release = () => {
      if ("dedicated" in reader) {
        reader.dedicated.disconnect();
        this.dedicatedReaders--;
      }
    };
    let subscription: RedisSubscription;
    try {
      subscription = await RedisSubscription.start(
        {
          commands: this.commands,
          reader,
          settings: this.settings,
          logger: this.logger,
        },
        key,
        groupName(name),
        handler,
        options,
        () => {
          this.subscriptions.delete(subscription);
          const left = (this.readers.get(key) ?? 1) - 1;
          if (left > 0) this.readers.set(key, left);
          else this.readers.delete(key);
          release();
        },
      );
    } catch (error) {
      release();
      throw error;
    }
    this.subscriptions.add(subscription);
    this.readers.set(key, (this.readers.get(key) ?? 0) + 1);
    return subscription;
  }

  /**
   * XGROUP DESTROY, then a trim at once: the group no longer holds back the entries it had yet
   * to acknowledge (see MAINTAIN). A process still reading under the name re-creates the group
   * at the stream's end (see removedGroupKey).
   */
  async removeConsumer(stream: string, name: string): Promise<void> {
    const key = streamKey(stream);
    const group = groupName(name);
    const what = `removing consumer group ${group} of ${key}`;
    try {
      await withDeadline(
        this.commands.eventailRemoveGroup(
          key,
          removedGroupKey(key, group),
          group,
          REMOVED_GROUP_MARK_MS,
        ),
        this.settings.commandTimeoutMs,
        what,
      );
      await withDeadline(this.maintainOne(key), this.settings.commandTimeoutMs, `trimming ${key}`);
    } catch (error) {
      throw unavailable(what, error);
    }
  }

  /** Deletes the stream key, entries and groups alike. */
  async removeStream(stream: string): Promise<void> {
    const key = streamKey(stream);
    this.streams.delete(key);
    this.retention.delete(key);
    this.appended.delete(key);
    try {
      await withDeadline(this.commands.del(key), this.settings.commandTimeoutMs, `deleting ${key}`);
    } catch (error) {
      throw unavailable(`deleting ${key}`, error);
    }
  }

  async ready(): Promise<boolean> {
    if (this.closing !== undefined || this.commands.status !== "ready") return false;
    try {
      await withDeadline(this.commands.ping(), 1_000, "PING");
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.maintenance);
      await this.appends.flush();
      await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
      await this.notifier?.close();
      await closeConnection(this.commands, this.settings.commandTimeoutMs);
    })();
    return this.closing;
  }

  private streamNotifier(): StreamNotifier {
    this.notifier ??= new StreamNotifier(
      createRedisConnection(this.settings, this.logger, "notify"),
      (clientId) =>
        withDeadline(
          this.commands.client("UNBLOCK", clientId),
          this.settings.commandTimeoutMs,
          "CLIENT UNBLOCK",
        ),
      this.settings.blockMs,
      this.logger,
    );
    return this.notifier;
  }

  /** Trims entries every group has acknowledged; see the MAINTAIN script for the rule. */
  async maintain(): Promise<void> {
    if (this.commands.status !== "ready") return;
    for (const key of this.streams) {
      const state = this.appended.get(key);
      if (state !== undefined) state.count = 0;
      try {
        await this.maintainOne(key);
      } catch (error) {
        this.logger.debug({ err: error, stream: key }, "redis backing: trimming failed");
      }
    }
  }

  async retainStream(stream: string, retentionMs: number | undefined): Promise<void> {
    const key = streamKey(stream);
    if (retentionMs === undefined) this.retention.delete(key);
    else {
      this.retention.set(key, retentionMs);
      // Kept from now on even before anyone publishes or subscribes here.
      this.streams.add(key);
    }
  }

  readonly archive: Archive = {
    read: (stream, fromMs, toMs) => this.readArchive(streamKey(stream), fromMs, toMs),
  };

  /**
   * XRANGE by ids derived from the window (an entry id starts with its XADD time in ms), a page
   * at a time; an entry trimmed between pages is simply not there.
   */
  private async *readArchive(
    key: string,
    fromMs: number,
    toMs: number,
  ): AsyncIterable<ArchivedEvent> {
    if (toMs <= fromMs) return;
    let start = `${Math.max(0, Math.floor(fromMs))}-0`;
    const end = `${Math.ceil(toMs) - 1}-18446744073709551615`;
    for (;;) {
      const page = await withDeadline(
        this.commands.xrange(key, start, end, "COUNT", ARCHIVE_PAGE),
        this.settings.commandTimeoutMs,
        `reading ${key}`,
      ).catch((error: unknown) => {
        throw unavailable(`reading the archive of ${key}`, error);
      });
      for (const [id, fields] of page) {
        const at = Number(id.slice(0, id.indexOf("-")));
        const index = fields.indexOf(EVENT_FIELD);
        if (index < 0 || index + 1 >= fields.length) continue;
        yield { event: decodeFromStorage(fields[index + 1]!), at };
      }
      if (page.length < ARCHIVE_PAGE) return;
      start = `(${page[page.length - 1]![0]}`;
    }
  }

  private maintainOne(key: string): Promise<number> {
    const retentionMs = this.retention.get(key);
    const keepFrom = retentionMs === undefined ? "" : `${Math.max(0, Date.now() - retentionMs)}-0`;
    // A stream this process reads but that has no group lost it (Redis restarted without its
    // data): what was appended since waits for the subscription to re-create its group at 0.
    const read = this.readers.has(key) ? "1" : "";
    return this.commands.eventailMaintain(key, this.settings.consumerExpiryMs, keepFrom, read);
  }

  /** Queues the events for this tick's APPEND call; they are stored whole or not at all. */
  private append(key: string, events: readonly CloudEvent[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.appends.add({ key, payloads: events.map(encodeForStorage), resolve, reject });
    });
  }

  /** Settles every publish of the batch: with its own XADD error, or all with the call's. */
  private async sendAppends(batch: PendingAppend[]): Promise<void> {
    const keys: string[] = [];
    const args: string[] = [EVENT_FIELD];
    for (const pending of batch) {
      keys.push(pending.key);
      args.push(String(pending.payloads.length));
      for (const payload of pending.payloads) args.push(payload);
    }
    let replies: Array<string[] | string>;
    try {
      replies = await this.commands.eventailAppend(keys.length, ...keys, ...args);
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, index) => {
      const reply = replies[index];
      if (Array.isArray(reply) && reply.length === pending.payloads.length) pending.resolve();
      else pending.reject(new Error(typeof reply === "string" ? reply : "unexpected APPEND reply"));
    });
  }
}
