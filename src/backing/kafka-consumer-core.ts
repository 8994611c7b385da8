/**
 * The one Kafka consumer core: commit only the finished prefix. Records handed out in offset order
 * may finish in any order, but Kafka stores a single offset per partition, so a partition's
 * committed offset advances only over records whose handling finished, and a crash redelivers
 * whatever was unfinished. The Kafka backing's subscriptions and the Kafka sources (KafkaSource,
 * the MessageQueueTrigger's Kafka queue) share it; it lives beside the Backing interface rather
 * than in the kafka/ engine folder so sources may import it, and it takes the commit request as a
 * function so importing it loads no Kafka client.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface PrefixCommit {
  /** Kafka's committed offset: the next record to read, i.e. the first unfinished one. */
  readonly offset: number;
  /** One past the highest record a handler has started on (at least `offset`). */
  readonly startedEnd: number;
}

/** Where one assigned partition stands. */
export class PartitionProgress {
  private readonly offsets: number[] = [];
  private readonly finished = new Set<number>();
  private next: number | undefined;
  private started = -1;
  /** What the last successful commit stored, to skip commits that would change nothing. */
  private stored: PrefixCommit | undefined;
  /** Set when the partition moved to another consumer: late acks must not commit anything. */
  revoked = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  /** Registers a fetched record; false when it was already taken (kafkajs fetched it twice). */
  take(offset: number): boolean {
    if (this.next !== undefined && offset < this.next) return false;
    this.offsets.push(offset);
    this.next = offset + 1;
    return true;
  }

  /** The handler started on this record; true when that is news worth committing. */
  start(offset: number): boolean {
    if (offset <= this.started) return false;
    this.started = offset;
    return true;
  }

  /** Marks a record done; true when the committable offset moved. */
  finish(offset: number): boolean {
    if (this.offsets.length === 0 || offset < this.offsets[0]!) return false;
    this.finished.add(offset);
    let moved = false;
    while (this.offsets.length > 0 && this.finished.delete(this.offsets[0]!)) {
      this.offsets.shift();
      moved = true;
    }
    return moved;
  }

  /** The offset to fetch next in this process, undefined before the first record. */
  get nextFetch(): number | undefined {
    return this.next;
  }

  /** The first unfinished record, or past the last taken one when all finished. */
  get committable(): number | undefined {
    return this.offsets.length > 0 ? this.offsets[0] : this.next;
  }

  /** The commit that would bring Kafka up to date, or undefined when it already is. */
  pendingCommit(): PrefixCommit | undefined {
    const offset = this.committable;
    if (offset === undefined || this.revoked) return undefined;
    const startedEnd = Math.max(this.started + 1, offset);
    if (this.stored?.offset === offset && this.stored.startedEnd === startedEnd) return undefined;
    return { offset, startedEnd };
  }

  committed(commit: PrefixCommit): void {
    this.stored = commit;
  }
}

export interface PendingCommit {
  readonly progress: PartitionProgress;
  readonly commit: PrefixCommit;
}

export interface OffsetCommitterOptions {
  /** The partitions this member holds now. */
  readonly partitions: () => Iterable<PartitionProgress>;
  /** Stores the commits in Kafka (the consumer's commitOffsets). */
  readonly send: (commits: readonly PendingCommit[]) => Promise<void>;
  readonly onFailure: (error: unknown) => void;
  /**
   * Wait before trying a failed commit again; without it a failed commit waits for the next
   * request (the next finished record), which carries it along.
   */
  readonly retryDelayMs?: number;
}

/**
 * Commits every partition's finished prefix, one request at a time: requests made meanwhile fold
 * into the next one. A failed commit only means redelivery after a crash or rebalance.
 */
export class OffsetCommitter {
  private running: Promise<void> | undefined;
  private wanted = false;
  private closed = false;

  constructor(private readonly options: OffsetCommitterOptions) {}

  request(): void {
    this.wanted = true;
    if (this.running === undefined && !this.closed) this.running = this.loop();
  }

  /** Resolves once the requests made so far were tried. */
  async drain(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  /**
   * Takes no more requests and makes the last commit, waiting at most `ms` for a commit already
   * under way and `ms` again for the last one; acknowledgements after this are redelivered.
   */
  async close(ms: number): Promise<void> {
    this.closed = true;
    const deadline = Date.now() + ms;
    while (this.running !== undefined && Date.now() < deadline) await sleep(10);
    await Promise.race([this.commitNow(), sleep(ms)]);
  }

  private async loop(): Promise<void> {
    try {
      while (this.wanted && !this.closed) {
        this.wanted = false;
        if (await this.commitNow()) continue;
        const retry = this.options.retryDelayMs;
        if (retry === undefined) return;
        this.wanted = true;
        await sleep(retry);
      }
    } finally {
      this.running = undefined;
    }
  }

  /** Commits what is pending now; false when Kafka did not take it. */
  private async commitNow(): Promise<boolean> {
    const commits: PendingCommit[] = [];
    for (const progress of this.options.partitions()) {
      const commit = progress.pendingCommit();
      if (commit !== undefined) commits.push({ progress, commit });
    }
    if (commits.length === 0) return true;
    try {
      await this.options.send(commits);
      for (const { progress, commit } of commits) progress.committed(commit);
      return true;
    } catch (error) {
      this.options.onFailure(error);
      return false;
    }
  }
}
