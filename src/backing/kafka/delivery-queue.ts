import type { CloudEvent } from "../../events/event.js";
import type { Logger } from "../../observability/logger.js";
import type { ConsumeHandler } from "../backing.js";
import type { PartitionProgress } from "../kafka-consumer-core.js";

/** One fetched record on its way to the handler. */
export interface QueuedRecord {
  readonly event: CloudEvent;
  readonly offset: number;
  readonly progress: PartitionProgress;
  /** Ordered mode: records sharing a lane (their `partitionkey`) run one at a time, in order. */
  readonly lane: string;
  deliveryCount: number;
}

interface Lane {
  readonly records: QueuedRecord[];
  busy: boolean;
}

export interface DeliveryQueueOptions {
  readonly concurrency: number;
  readonly ordered: boolean;
  readonly redeliveryDelayMs: number;
  readonly redeliveryMaxDelayMs: number;
  /** The handler resolved: the record may be committed. */
  readonly onAck: (record: QueuedRecord) => void;
  readonly onStart: (record: QueuedRecord) => void;
}

// Kafka keeps a member's partitions as long as its fetch loop heartbeats, which it does whatever
// the handlers are doing; a slow handler has nothing to renew.
const keepAlive = () => {};

/**
 * Hands fetched records to the handler: at most `concurrency` at once; in ordered mode one at a
 * time per lane. A handler that rejects gets the same record again after a growing delay, and in
 * ordered mode its lane waits for it.
 */
export class DeliveryQueue {
  private readonly ready: QueuedRecord[] = [];
  private readonly lanes = new Map<string, Lane>();
  private readonly runnable: Lane[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private inFlight = 0;
  private held = 0;
  private stopped = false;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly handler: ConsumeHandler,
    private readonly options: DeliveryQueueOptions,
    private readonly logger: Logger,
  ) {}

  /** Records taken and not yet acknowledged (queued, running, or waiting to be redelivered). */
  get backlog(): number {
    return this.held;
  }

  get running(): number {
    return this.inFlight;
  }

  push(record: QueuedRecord): void {
    if (this.stopped) return;
    this.held++;
    if (!this.options.ordered) {
      this.ready.push(record);
    } else {
      let lane = this.lanes.get(record.lane);
      if (lane === undefined) {
        lane = { records: [], busy: false };
        this.lanes.set(record.lane, lane);
      }
      lane.records.push(record);
      if (lane.records.length === 1 && !lane.busy) this.runnable.push(lane);
    }
    this.pump();
  }

  /** Drops what has not started for partitions now owned elsewhere (the new owner delivers them). */
  revoke(): void {
    const keep = (record: QueuedRecord) => !record.progress.revoked;
    const before = this.ready.length;
    const kept = this.ready.filter(keep);
    this.ready.splice(0, this.ready.length, ...kept);
    this.held -= before - kept.length;
    for (const [name, lane] of this.lanes) {
      // The head of a busy lane is running; it settles on its own.
      const head = lane.busy ? lane.records.slice(0, 1) : [];
      const rest = (lane.busy ? lane.records.slice(1) : lane.records).filter(keep);
      this.held -= lane.records.length - head.length - rest.length;
      lane.records.splice(0, lane.records.length, ...head, ...rest);
      if (lane.records.length === 0 && !lane.busy) this.lanes.delete(name);
    }
    this.notify();
  }

  /** Starts nothing new and forgets what has not started; running handlers finish. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.ready.length = 0;
    this.lanes.clear();
    this.runnable.length = 0;
    this.held = this.inFlight;
    this.notify();
  }

  /** Resolves on the next ack, drop or stop (callers re-check what they wait for). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Waits until no handler runs, up to `ms`; true when idle. */
  async idle(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.inFlight > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.changed(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, left);
        }),
      ]);
      clearTimeout(timer);
    }
    return true;
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private pump(): void {
    while (!this.stopped && this.inFlight < this.options.concurrency) {
      const record = this.next();
      if (record === undefined) return;
      this.start(record);
    }
  }

  private next(): QueuedRecord | undefined {
    if (!this.options.ordered) return this.ready.shift();
    for (let lane = this.runnable.shift(); lane !== undefined; lane = this.runnable.shift()) {
      if (lane.busy || lane.records.length === 0) continue;
      lane.busy = true;
      return lane.records[0];
    }
    return undefined;
  }

  private start(record: QueuedRecord): void {
    this.inFlight++;
    this.options.onStart(record);
    let delivery: Promise<void>;
    try {
      delivery = this.handler(record.event, { deliveryCount: record.deliveryCount, keepAlive });
    } catch (error) {
      delivery = Promise.reject(error);
    }
    delivery.then(
      () => this.settle(record, undefined),
      (error: unknown) => this.settle(record, error ?? new Error("handler rejected")),
    );
  }

  private settle(record: QueuedRecord, error: unknown): void {
    this.inFlight--;
    const lane = this.options.ordered ? this.lanes.get(record.lane) : undefined;
    if (error === undefined) {
      this.release(record, lane);
      this.options.onAck(record);
    } else if (this.stopped || record.progress.revoked) {
      // Not ours to retry any more: the record stays uncommitted for whoever reads it next.
      this.release(record, lane);
    } else {
      this.logger.debug(
        { offset: record.offset, partition: record.progress.partition, err: error },
        "handler rejected a Kafka record; it will be delivered again",
      );
      this.redeliverLater(record, lane);
    }
    this.notify();
    this.pump();
  }

  private release(record: QueuedRecord, lane: Lane | undefined): void {
    if (this.held > 0) this.held--;
    if (lane === undefined) return;
    if (lane.records[0] === record) lane.records.shift();
    lane.busy = false;
    if (lane.records.length > 0) this.runnable.push(lane);
    else this.lanes.delete(record.lane);
  }

  private redeliverLater(record: QueuedRecord, lane: Lane | undefined): void {
    const delay = Math.min(
      this.options.redeliveryDelayMs * 2 ** (record.deliveryCount - 1),
      this.options.redeliveryMaxDelayMs,
    );
    record.deliveryCount++;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.stopped) return;
      if (record.progress.revoked) {
        this.release(record, lane);
        this.notify();
      } else if (lane === undefined) {
        this.ready.unshift(record);
      } else {
        // The lane stayed busy while waiting, so nothing behind the record overtook it.
        lane.busy = false;
        this.runnable.unshift(lane);
      }
      this.pump();
    }, delay);
    this.timers.add(timer);
  }
}
