import type { ConsumerGroup } from "./consumer-group.js";
import { Fifo } from "./fifo.js";
import { type HeldEvents, StreamLog } from "./stream-log.js";

/**
 * One log of a stream and the consumer groups that ran dry on it. A stream has one feed of every
 * event, read by consumers without a type hint, and one feed per hinted type, read only by the
 * consumers hinting it: a publish appends to at most two feeds and wakes only their readers, so
 * ten thousand consumers hinting other types cost it nothing.
 */
export class Feed {
  readonly log: StreamLog;
  /** Groups that ran dry here; an entry whose group now waits elsewhere is stale and skipped. */
  readonly waiting = new Fifo<ConsumerGroup>();
  /** Set while the feed sits in its stream's list of feeds with news. */
  news = false;

  /** `type` is undefined for the feed of every event. */
  constructor(
    readonly type: string | undefined,
    held?: HeldEvents,
  ) {
    this.log = new StreamLog(held);
  }
}
