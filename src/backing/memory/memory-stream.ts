import type { CloudEvent } from "../../events/event.js";
import { ConsumerGroup, type ConsumerGroupOptions, type GroupHost } from "./consumer-group.js";
import { Feed } from "./feed.js";
import { Fifo } from "./fifo.js";

/**
 * Groups pumped per event-loop turn. Fast handlers finish a pumped group's backlog before the
 * next turn, so this bounds how many handler calls are alive at once: with ten thousand
 * consumers, a larger live set makes every young-generation GC copy it all again.
 */
const WAKE_SLICE = 256;

/**
 * One stream (a broker's or a channel's): its feeds and its named consumers. A publish wakes the
 * consumers that had run dry on the feeds it touched once per event-loop turn, however many
 * events arrived in it.
 */
export class MemoryStream implements GroupHost {
  readonly groups = new Map<string, ConsumerGroup>();
  /** Events its feeds hold for consumers that have yet to take them (once per feed). */
  readonly held = { count: 0 };
  private readonly everyType = new Feed(undefined, this.held);
  private readonly byType = new Map<string, Feed>();
  /** Feeds that got events while groups waited on them: their groups become due. */
  private readonly withNews = new Fifo<Feed>();
  /** Groups with news, pumped WAKE_SLICE per turn. */
  private readonly due = new Fifo<ConsumerGroup>();
  private readonly ramping = new Fifo<ConsumerGroup>();
  private wakeScheduled = false;

  constructor(
    private readonly options: ConsumerGroupOptions,
    private readonly onEmpty: (stream: MemoryStream) => void,
  ) {}

  /** The group named `name`; a new one starts at the tail of the feed `typeHint` picks. */
  group(name: string, typeHint: string | undefined): ConsumerGroup {
    let group = this.groups.get(name);
    if (group === undefined) {
      group = new ConsumerGroup(name, this, this.options, typeHint);
      this.groups.set(name, group);
    }
    return group;
  }

  /**
   * Appends each event to the feed of every event (which keeps nothing while no unhinted
   * consumer reads it) and to its type's feed when some consumer hints that type.
   */
  publish(events: readonly CloudEvent[]): void {
    const everyType = this.everyType;
    const byType = this.byType;
    for (const event of events) {
      everyType.log.append(event);
      if (byType.size === 0) continue;
      const type = event.attributes["type"];
      const feed = type === undefined ? undefined : byType.get(String(type));
      if (feed === undefined) continue;
      feed.log.append(event);
      if (feed.waiting.length > 0) this.announce(feed);
    }
    if (everyType.waiting.length > 0) this.announce(everyType);
  }

  join(typeHint: string | undefined): { feed: Feed; cursor: number } {
    let feed = this.everyType;
    if (typeHint !== undefined) {
      feed = this.byType.get(typeHint) ?? new Feed(typeHint, this.held);
      this.byType.set(typeHint, feed);
    }
    return { feed, cursor: feed.log.addReader() };
  }

  leave(feed: Feed, cursor: number): void {
    feed.log.removeReader(cursor);
    if (feed.type !== undefined && feed.log.readers === 0 && this.byType.get(feed.type) === feed) {
      this.byType.delete(feed.type);
    }
  }

  awaitEvents(group: ConsumerGroup, feed: Feed): void {
    if (group.waitingOn === feed) return;
    group.waitingOn = feed;
    feed.waiting.push(group);
  }

  pumpSoon(group: ConsumerGroup): void {
    if (group.ramping) return;
    group.ramping = true;
    this.ramping.push(group);
    this.schedule();
  }

  forget(group: ConsumerGroup): void {
    if (this.groups.get(group.name) !== group) return;
    this.groups.delete(group.name);
    group.stop();
    if (this.groups.size === 0) this.onEmpty(this);
  }

  stop(): void {
    for (const group of this.groups.values()) group.stop();
    this.groups.clear();
    this.byType.clear();
    this.everyType.waiting.clear();
    this.withNews.clear();
    this.due.clear();
    this.ramping.clear();
  }

  private announce(feed: Feed): void {
    if (feed.news) return;
    feed.news = true;
    this.withNews.push(feed);
    this.schedule();
  }

  private schedule(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(this.wake);
  }

  private readonly wake = (): void => {
    this.wakeScheduled = false;
    for (const feed of this.withNews.drain()) {
      feed.news = false;
      for (const group of feed.waiting.drain()) {
        if (group.waitingOn !== feed) continue; // it moved to another feed since
        group.waitingOn = undefined;
        if (group.due) continue;
        group.due = true;
        this.due.push(group);
      }
    }
    let budget = WAKE_SLICE;
    while (budget > 0 && this.due.length > 0) {
      const group = this.due.shift()!;
      group.due = false;
      group.pump();
      budget--;
    }
    // Groups that hit their burst again while pumped here wait for the next turn.
    for (let n = this.ramping.length; n > 0 && budget > 0; n--, budget--) {
      const group = this.ramping.shift()!;
      group.ramping = false;
      group.pump();
    }
    if (this.due.length > 0 || this.ramping.length > 0) this.schedule();
  };
}
