import { ConsumerGroup, type ConsumerGroupOptions, type GroupHost } from "./consumer-group.js";
import { Fifo } from "./fifo.js";
import { StreamLog } from "./stream-log.js";

/**
 * Groups pumped per event-loop turn. Fast handlers finish a pumped group's backlog before the
 * next turn, so this bounds how many handler calls are alive at once: with ten thousand
 * consumers, a larger live set makes every young-generation GC copy it all again.
 */
const WAKE_SLICE = 256;

/**
 * One stream (a broker's or a channel's): its log and its named consumers. A publish wakes the
 * consumers that had run dry once per event-loop turn, however many events arrived in it.
 */
export class MemoryStream implements GroupHost {
  readonly log = new StreamLog();
  readonly groups = new Map<string, ConsumerGroup>();
  /** Groups that ran dry: pumped after the next publish. */
  private readonly awaiting = new Fifo<ConsumerGroup>();
  /** Groups with news, pumped WAKE_SLICE per turn. */
  private readonly due = new Fifo<ConsumerGroup>();
  private readonly ramping = new Fifo<ConsumerGroup>();
  private news = false;
  private wakeScheduled = false;

  constructor(
    private readonly options: ConsumerGroupOptions,
    private readonly onEmpty: (stream: MemoryStream) => void,
  ) {}

  group(name: string): ConsumerGroup {
    let group = this.groups.get(name);
    if (group === undefined) {
      group = new ConsumerGroup(name, this, this.options);
      this.groups.set(name, group);
    }
    return group;
  }

  awaitEvents(group: ConsumerGroup): void {
    if (group.awaiting) return;
    group.awaiting = true;
    this.awaiting.push(group);
  }

  pumpSoon(group: ConsumerGroup): void {
    if (group.ramping) return;
    group.ramping = true;
    this.ramping.push(group);
    this.schedule();
  }

  published(): void {
    if (this.awaiting.length === 0) return;
    this.news = true;
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
    this.awaiting.clear();
    this.due.clear();
    this.ramping.clear();
  }

  private schedule(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(this.wake);
  }

  private readonly wake = (): void => {
    this.wakeScheduled = false;
    if (this.news) {
      this.news = false;
      for (const group of this.awaiting.drain()) this.due.push(group);
    }
    let budget = WAKE_SLICE;
    while (budget > 0 && this.due.length > 0) {
      const group = this.due.shift()!;
      group.awaiting = false;
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
