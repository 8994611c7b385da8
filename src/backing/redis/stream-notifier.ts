import { setTimeout as delay } from "node:timers/promises";
import type { Redis } from "ioredis";
import type { Logger } from "../../observability/logger.js";
import { waitUntilReady } from "./connection.js";
import { compareEntryIds } from "./keys.js";

/**
 * Wakes idle subscriptions when their stream gets a new entry, for the whole process on one
 * blocking connection: XREAD BLOCK over every stream some subscription waits on, each from the
 * stream's tail as that subscription last saw it. Consumer groups cannot share a blocking
 * XREADGROUP, so subscriptions read with non-blocking polls on the shared command connection and
 * only sleep here in between; without this, each one held a connection blocked in XREADGROUP.
 *
 * A stream is watched only while some subscription waits on it: the first entry past its tail
 * wakes every subscription of that stream and the stream drops out until one of them goes idle
 * again, so a busy stream costs nothing here.
 */
export class StreamNotifier {
  private readonly listeners = new Map<string, Set<() => void>>();
  /** Streams to watch: key → the id to read after (the oldest tail a waiting listener saw). */
  private readonly armed = new Map<string, string>();
  /** What the XREAD in flight covers. */
  private round: Map<string, string> | undefined;
  private clientId: number | undefined;
  private unblockSent = false;
  private changed: (() => void) | undefined;
  private closed = false;
  private readonly loop: Promise<void>;
  private lostConnection = false;
  private readonly stopped = new AbortController();

  constructor(
    private readonly connection: Redis,
    /** Interrupts the XREAD in flight (CLIENT UNBLOCK) when a stream must join it. */
    private readonly unblock: (clientId: number) => Promise<unknown>,
    private readonly blockMs: number,
    private readonly logger: Logger,
  ) {
    connection.on("ready", () => {
      this.clientId = undefined;
      if (!this.lostConnection) return;
      this.lostConnection = false;
      // Entries may have arrived unseen while the connection was down (or the server lost its
      // streams and their ids): every subscription looks for itself and re-arms.
      this.wakeAll();
    });
    connection.on("close", () => {
      this.lostConnection = true;
    });
    this.loop = this.run();
  }

  /** Calls `wake` whenever `key` may have new entries; returns the way to stop. */
  watch(key: string, wake: () => void): () => void {
    let set = this.listeners.get(key);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(key, set);
    }
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.listeners.get(key) === set) {
        this.listeners.delete(key);
        this.armed.delete(key);
      }
    };
  }

  /**
   * A listener of `key` found nothing new and its stream's last entry was `tail` (read in the
   * same atomic step): it is woken once an entry after `tail` exists.
   */
  arm(key: string, tail: string): void {
    if (!this.listeners.has(key)) return;
    const current = this.armed.get(key);
    if (current === undefined || compareEntryIds(tail, current) < 0) this.armed.set(key, tail);
    const after = this.armed.get(key)!;
    const covered = this.round?.get(key);
    if (covered !== undefined && compareEntryIds(covered, after) <= 0) return;
    if (this.round === undefined) {
      this.changed?.();
      return;
    }
    this.interrupt();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopped.abort();
    this.changed?.();
    this.connection.disconnect();
    await this.loop;
  }

  private interrupt(): void {
    if (this.unblockSent || this.clientId === undefined) return;
    this.unblockSent = true;
    const round = this.round;
    this.unblock(this.clientId).then(
      (unblocked) => {
        // 0: the XREAD, sent on another connection, had not reached Redis yet. Try again while
        // that round is still the one in flight.
        if (Number(unblocked) !== 0 || this.round !== round || this.closed) return;
        setTimeout(() => {
          if (this.round !== round) return;
          this.unblockSent = false;
          this.interrupt();
        }, 5);
      },
      // Without the permission to unblock, the stream joins when the current round times out.
      (error: unknown) => this.logger.debug({ err: error }, "redis backing: CLIENT UNBLOCK failed"),
    );
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      if (this.armed.size === 0) {
        await new Promise<void>((resolve) => {
          this.changed = resolve;
        });
        this.changed = undefined;
        continue;
      }
      if (!(await waitUntilReady(this.connection, this.blockMs))) continue;
      try {
        this.clientId ??= Number(await this.connection.client("ID"));
        // Taken with no await before the XREAD is sent, so an arm() after it sees this.round.
        const round = new Map(this.armed);
        const keys = [...round.keys()];
        const ids = keys.map((key) => round.get(key)!);
        this.round = round;
        this.unblockSent = false;
        // COUNT 1: one entry says "there is news"; the subscriptions read the rest themselves.
        const reply = await this.connection.xreadBuffer(
          "COUNT",
          1,
          "BLOCK",
          this.blockMs,
          "STREAMS",
          ...keys,
          ...ids,
        );
        this.round = undefined;
        failures = 0;
        for (const [rawKey] of reply ?? []) {
          const key = rawKey.toString();
          this.armed.delete(key);
          for (const wake of this.listeners.get(key) ?? []) wake();
        }
      } catch (error) {
        this.round = undefined;
        if (this.closed) break;
        failures++;
        if (failures === 1) {
          this.logger.warn({ err: error }, "redis backing: watching streams failed; retrying");
        }
        // What the failed round would have seen is looked for by the subscriptions themselves.
        this.wakeAll();
        await delay(Math.min(100 * 2 ** failures, 2_000), undefined, {
          signal: this.stopped.signal,
        }).catch(() => undefined);
      }
    }
  }

  private wakeAll(): void {
    for (const set of this.listeners.values()) for (const wake of set) wake();
  }
}
