/**
 * The entries one subscription holds (read from Redis, not yet acknowledged) and the rule for
 * which of them may run: entries of one lane run one at a time in stream order, and at most
 * `concurrency` run at once. Unordered mode gives every entry a lane of its own; ordered mode
 * uses one lane per `partitionkey`. Knows nothing of Redis.
 */
import type { CloudEvent } from "../../events/event.js";
import { compareEntryIds } from "./keys.js";

export interface HeldEntry {
  readonly id: string;
  readonly event: CloudEvent;
  readonly lane: string;
  deliveryCount: number;
  /** queued: may start; running: its handler has not settled; waiting: rejected, retry pending. */
  state: "queued" | "running" | "waiting";
  /** When keepAlive last reached Redis for it (ms since epoch). */
  touchedAt: number;
}

export class DeliveryWindow {
  private readonly held = new Map<string, HeldEntry>();
  private readonly lanes = new Map<string, HeldEntry[]>();
  /** Lanes whose head is queued, oldest first. */
  private readonly ready = new Set<string>();
  private running = 0;
  private stopped = false;
  private roomWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    /** How many entries may be held at once (running, queued behind a lane, or waiting). */
    private readonly capacity: number,
    private readonly start: (entry: HeldEntry) => void,
  ) {}

  get size(): number {
    return this.held.size;
  }

  get room(): number {
    return this.capacity - this.held.size;
  }

  get(id: string): HeldEntry | undefined {
    return this.held.get(id);
  }

  entries(): HeldEntry[] {
    return [...this.held.values()];
  }

  /** Entries that are held but have no handler running (Redis must not consider them idle). */
  idleEntries(): HeldEntry[] {
    return [...this.held.values()].filter((entry) => entry.state !== "running");
  }

  /** Takes an entry; false when it is held already. Older entries go ahead in their lane. */
  offer(id: string, event: CloudEvent, lane: string, deliveryCount: number): boolean {
    if (this.held.has(id) || this.stopped) return false;
    const entry: HeldEntry = { id, event, lane, deliveryCount, state: "queued", touchedAt: 0 };
    this.held.set(id, entry);
    const queue = this.lanes.get(lane);
    if (queue === undefined) {
      this.lanes.set(lane, [entry]);
      this.ready.add(lane);
    } else {
      let at = queue.length;
      while (at > 1 && compareEntryIds(queue[at - 1]!.id, id) > 0) at--;
      if (at === 1 && queue[0]!.state === "queued" && compareEntryIds(queue[0]!.id, id) > 0) at = 0;
      queue.splice(at, 0, entry);
    }
    this.pump();
    return true;
  }

  /** The entry is done with (acknowledged, or no longer ours): frees its lane and its place. */
  settle(id: string): void {
    const entry = this.held.get(id);
    if (entry === undefined) return;
    this.held.delete(id);
    if (entry.state === "running") this.running--;
    const queue = this.lanes.get(entry.lane)!;
    const index = queue.indexOf(entry);
    queue.splice(index, 1);
    if (queue.length === 0) {
      this.lanes.delete(entry.lane);
      this.ready.delete(entry.lane);
    } else if (index === 0 && queue[0]!.state === "queued") {
      this.ready.add(entry.lane);
    }
    this.wake();
    this.pump();
  }

  /** The handler rejected: the entry keeps its place at the head of its lane until resumed. */
  defer(id: string): void {
    const entry = this.held.get(id);
    if (entry === undefined || entry.state !== "running") return;
    entry.state = "waiting";
    this.running--;
    this.wake();
    this.pump();
  }

  /** A waiting entry may run again, as delivery number `deliveryCount`. */
  resume(id: string, deliveryCount: number): void {
    const entry = this.held.get(id);
    if (entry === undefined || entry.state !== "waiting") return;
    entry.state = "queued";
    entry.deliveryCount = deliveryCount;
    this.ready.add(entry.lane);
    this.pump();
  }

  /** Resolves when an entry can be taken (or the window stopped). */
  whenRoom(): Promise<void> {
    if (this.room > 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Resolves when no handler runs. */
  whenIdle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Starts nothing more; held entries stay where they are (unacknowledged). */
  stop(): void {
    this.stopped = true;
    this.wake();
  }

  private pump(): void {
    while (!this.stopped && this.running < this.concurrency && this.ready.size > 0) {
      const lane = this.ready.values().next().value as string;
      this.ready.delete(lane);
      const head = this.lanes.get(lane)![0]!;
      head.state = "running";
      this.running++;
      this.start(head);
    }
  }

  private wake(): void {
    if (this.room > 0 || this.stopped) {
      const waiters = this.roomWaiters;
      this.roomWaiters = [];
      for (const resolve of waiters) resolve();
    }
    if (this.running === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
