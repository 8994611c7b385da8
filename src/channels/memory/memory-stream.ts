import { ConsumerGroup, type ConsumerGroupOptions, type GroupHost } from "./consumer-group.js";
import { StreamLog } from "./stream-log.js";

/**
 * One stream (a broker's or a channel's): its log and its named consumers. A publish wakes the
 * consumers that had run dry once per event-loop turn, however many events arrived in it.
 */
export class MemoryStream implements GroupHost {
  readonly log = new StreamLog();
  readonly groups = new Map<string, ConsumerGroup>();
  private awaiting: ConsumerGroup[] = [];
  private spare: ConsumerGroup[] = [];
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

  published(): void {
    if (this.awaiting.length === 0 || this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(this.wake);
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
    this.awaiting.length = 0;
  }

  private readonly wake = (): void => {
    this.wakeScheduled = false;
    const groups = this.awaiting;
    // Groups that run dry again while being pumped go on the other list, for the next publish.
    this.awaiting = this.spare;
    this.spare = groups;
    for (const group of groups) {
      group.awaiting = false;
      group.pump();
    }
    groups.length = 0;
  };
}
