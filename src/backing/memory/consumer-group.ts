import type { CloudEvent } from "../../events/event.js";
import type { ConsumeHandler, SubscribeOptions } from "../backing.js";
import type { Delivery, Lane, Pending } from "./delivery.js";
import type { Feed } from "./feed.js";
import { Fifo } from "./fifo.js";
import { type DeliveryOwner, MemorySubscription } from "./memory-subscription.js";

export interface ConsumerGroupOptions {
  readonly redeliveryDelayMs: number;
  readonly maxRedeliveryDelayMs: number;
  readonly retainIdleConsumerMs: number;
  readonly closeGraceMs: number;
}

/** What a consumer group needs from its stream. */
export interface GroupHost {
  /** Starts reading, at its tail, the feed for `typeHint` (every event when undefined). */
  join(typeHint: string | undefined): { feed: Feed; cursor: number };
  /** Stops reading `feed`, whose events from `cursor` on the group no longer needs. */
  leave(feed: Feed, cursor: number): void;
  /** Pump `group` again once more events reach `feed`. */
  awaitEvents(group: ConsumerGroup, feed: Feed): void;
  /** Pump `group` again on the next turn of the event loop. */
  pumpSoon(group: ConsumerGroup): void;
  /** The group had no subscription for too long: drop it and its position. */
  forget(group: ConsumerGroup): void;
}

/** Ordered mode reads ahead past busy keys; this bounds how far. */
const MAX_PARKED = 4096;
const BURST = 4;

/**
 * One named consumer of a stream (a trigger or subscription): its position in the stream log,
 * the events waiting for redelivery, and, in ordered mode, one lane per partitionkey. Its
 * subscriptions share the work, like members of a Kafka consumer group.
 */
export class ConsumerGroup implements DeliveryOwner {
  /** The feed whose waiting list holds the group, if any. */
  waitingOn: Feed | undefined;
  /** Set while the group sits in its stream's list of groups woken by a publish. */
  due = false;
  /** Set while the group sits in its stream's list of groups to pump on the next turn. */
  ramping = false;
  private typeHint: string | undefined;
  private feed: Feed;
  private cursor: number;
  private readonly members: MemorySubscription[] = [];
  private turn = 0;
  /** Events already taken from the feed that go before it: retries, and carried-over backlogs. */
  private readonly redeliveries = new Fifo<Pending>();
  /** Present in ordered mode only. */
  private lanes: Map<string | undefined, Lane> | undefined;
  private readonly readyLanes = new Fifo<Lane>();
  private parked = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private idleTimer: NodeJS.Timeout | undefined;
  private pumping = false;

  constructor(
    readonly name: string,
    private readonly host: GroupHost,
    private readonly options: ConsumerGroupOptions,
    typeHint: string | undefined,
  ) {
    this.typeHint = typeHint;
    ({ feed: this.feed, cursor: this.cursor } = host.join(typeHint));
  }

  /**
   * Adds a subscription. The group's mode and type hint follow its newest subscription; a switch
   * applies to events not yet in flight.
   */
  attach(handler: ConsumeHandler, options: SubscribeOptions): MemorySubscription {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.setOrdered(options.ordered);
    this.setTypeHint(options.typeHint);
    const member = new MemorySubscription(
      this,
      handler,
      options.concurrency,
      this.options.closeGraceMs,
    );
    this.members.push(member);
    this.pump();
    return member;
  }

  get subscriptions(): readonly MemorySubscription[] {
    return this.members;
  }

  /** Events this consumer has yet to take (in flight excluded). */
  get depth(): number {
    return this.feed.log.tail - this.cursor + this.redeliveries.length + this.parked;
  }

  /**
   * Hands events to subscriptions until none can take more or none are left, at most `limit` per
   * call. A finished handler refills only its own slot; the window grows by BURST per event-loop
   * turn. Fast handlers thus drain a backlog with a few calls in flight per consumer (the garbage
   * collector pays for each one across ten thousand consumers), while slow handlers still reach
   * the full concurrency within a few turns.
   */
  pump(limit = BURST): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let started = 0; ; started++) {
        const member = this.pickMember();
        if (member === undefined) return;
        if (started === limit) {
          this.host.pumpSoon(this);
          return;
        }
        if (!this.deliverNext(member)) {
          if (this.cursor === this.feed.log.tail) this.host.awaitEvents(this, this.feed);
          return;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  settle(delivery: Delivery, ok: boolean): void {
    const lane = this.liveLane(delivery.lane);
    if (ok) {
      if (lane !== undefined) this.releaseLane(lane);
    } else {
      // The lane stays busy until the retry, so later events of its key wait behind it.
      const retry = { event: delivery.event, deliveryCount: delivery.deliveryCount + 1 };
      this.later(this.backoff(delivery.deliveryCount), () => this.requeue(retry, lane));
    }
    this.pump(1);
  }

  detach(member: MemorySubscription, unfinished: Delivery[]): void {
    const index = this.members.indexOf(member);
    if (index < 0) return; // the group was stopped with the backing
    this.members.splice(index, 1);
    for (const delivery of unfinished) {
      const retry = { event: delivery.event, deliveryCount: delivery.deliveryCount + 1 };
      this.requeue(retry, this.liveLane(delivery.lane));
    }
    if (this.members.length > 0) {
      this.pump();
    } else if (this.idleTimer === undefined) {
      // Keep the position a while: a hot reload re-subscribes and must not lose what came between.
      this.idleTimer = setTimeout(() => this.host.forget(this), this.options.retainIdleConsumerMs);
      this.idleTimer.unref();
    }
  }

  /** Releases everything the group holds (timers, its place in the log). */
  stop(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.host.leave(this.feed, this.cursor);
    this.cursor = Number.POSITIVE_INFINITY;
    this.members.length = 0;
  }

  private pickMember(): MemorySubscription | undefined {
    const members = this.members;
    const count = members.length;
    if (count === 1) return members[0]!.canTake() ? members[0] : undefined;
    for (let i = 0; i < count; i++) {
      const member = members[(this.turn + i) % count]!;
      if (member.canTake()) {
        this.turn = (this.turn + i + 1) % count;
        return member;
      }
    }
    return undefined;
  }

  private deliverNext(member: MemorySubscription): boolean {
    const redelivery = this.redeliveries.shift();
    if (redelivery !== undefined) {
      member.deliver(redelivery.event, redelivery.deliveryCount, undefined);
      return true;
    }
    if (this.lanes !== undefined) return this.deliverOrdered(member, this.lanes);
    if (this.cursor >= this.feed.log.tail) return false;
    member.deliver(this.take(), 1, undefined);
    return true;
  }

  private deliverOrdered(
    member: MemorySubscription,
    lanes: Map<string | undefined, Lane>,
  ): boolean {
    const ready = this.readyLanes.shift();
    if (ready !== undefined) {
      const next = ready.parked.shift()!;
      this.parked--;
      ready.busy = true;
      member.deliver(next.event, next.deliveryCount, ready);
      return true;
    }
    while (this.cursor < this.feed.log.tail && this.parked < MAX_PARKED) {
      const event = this.take();
      const key = partitionKey(event);
      const busy = lanes.get(key);
      if (busy === undefined) {
        const lane: Lane = { key, busy: true, parked: new Fifo() };
        lanes.set(key, lane);
        member.deliver(event, 1, lane);
        return true;
      }
      // With no lane ready, every existing lane is busy: the event waits its turn in its lane.
      busy.parked.push({ event, deliveryCount: 1 });
      this.parked++;
    }
    return false;
  }

  private take(): CloudEvent {
    const log = this.feed.log;
    const event = log.at(this.cursor);
    this.cursor++;
    log.advanced(this.cursor);
    return event;
  }

  private liveLane(lane: Lane | undefined): Lane | undefined {
    return lane !== undefined && this.lanes?.get(lane.key) === lane ? lane : undefined;
  }

  private requeue(retry: Pending, lane: Lane | undefined): void {
    if (!this.admits(retry.event)) {
      // Taken under an older hint: the current trigger version could never deliver it.
      if (lane !== undefined && this.liveLane(lane) === lane) this.releaseLane(lane);
      return;
    }
    if (lane !== undefined && this.liveLane(lane) === lane) {
      lane.parked.unshift(retry);
      this.parked++;
      this.releaseLane(lane);
    } else {
      this.redeliveries.push(retry);
    }
  }

  private releaseLane(lane: Lane): void {
    lane.busy = false;
    if (lane.parked.length > 0) this.readyLanes.push(lane);
    else this.lanes?.delete(lane.key);
  }

  private setOrdered(ordered: boolean): void {
    if (ordered === (this.lanes !== undefined)) return;
    if (ordered) {
      this.lanes = new Map();
      return;
    }
    for (const lane of this.lanes!.values()) {
      for (const pending of lane.parked.drain()) this.redeliveries.push(pending);
    }
    this.readyLanes.clear();
    this.parked = 0;
    this.lanes = undefined;
  }

  /**
   * A trigger whose filter type was edited re-subscribes with the new hint; from then on the
   * group reads the new hint's feed from its tail, and its handler gets only events the new hint
   * admits (bar those already in flight). Its unread backlog on the old feed is carried over, less
   * what the new hint rejects: from the feed of every event this keeps whatever the new filter may
   * match, so nothing it matches is lost; another type's backlog can never match the new filter
   * and is dropped as the old trigger version's. Events of the new type published while the group
   * had no subscription are missed: an idle group keeps only what its hint admits.
   */
  private setTypeHint(typeHint: string | undefined): void {
    if (typeHint === this.typeHint) return;
    const old = this.feed;
    const from = this.cursor;
    this.typeHint = typeHint;
    this.keepAdmitted();
    const carried: CloudEvent[] = [];
    if (typeHint === undefined || old.type === undefined) {
      for (let i = from; i < old.log.tail; i++) {
        const event = old.log.at(i);
        if (this.admits(event)) carried.push(event);
      }
    }
    ({ feed: this.feed, cursor: this.cursor } = this.host.join(typeHint));
    this.host.leave(old, from);
    for (const event of carried) this.carry(event);
  }

  private admits(event: CloudEvent): boolean {
    return this.typeHint === undefined || String(event.attributes["type"]) === this.typeHint;
  }

  /** Drops the events taken under an old hint that the current one rejects. */
  private keepAdmitted(): void {
    for (const pending of [...this.redeliveries.drain()]) {
      if (this.admits(pending.event)) this.redeliveries.push(pending);
    }
    if (this.lanes === undefined) return;
    this.readyLanes.clear();
    for (const lane of [...this.lanes.values()]) {
      for (const pending of [...lane.parked.drain()]) {
        if (this.admits(pending.event)) lane.parked.push(pending);
        else this.parked--;
      }
      if (lane.busy) continue;
      if (lane.parked.length > 0) this.readyLanes.push(lane);
      else this.lanes.delete(lane.key);
    }
  }

  /** Queues a first delivery taken from a feed the group no longer reads. */
  private carry(event: CloudEvent): void {
    const pending: Pending = { event, deliveryCount: 1 };
    if (this.lanes === undefined) {
      this.redeliveries.push(pending);
      return;
    }
    const key = partitionKey(event);
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = { key, busy: false, parked: new Fifo() };
      this.lanes.set(key, lane);
      this.readyLanes.push(lane);
    }
    lane.parked.push(pending);
    this.parked++;
  }

  private backoff(deliveryCount: number): number {
    const delay = this.options.redeliveryDelayMs * 2 ** Math.min(deliveryCount - 1, 30);
    return Math.min(delay, this.options.maxRedeliveryDelayMs);
  }

  private later(delayMs: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
      this.pump();
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }
}

function partitionKey(event: CloudEvent): string | undefined {
  const raw = event.attributes["partitionkey"];
  return raw === undefined ? undefined : String(raw);
}
