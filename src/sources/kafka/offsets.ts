import type { Consumer } from "kafkajs";
import type { Logger } from "../../observability/logger.js";

/**
 * The records of one partition handed out for delivery, in offset order, and which of them have
 * finished. Only the contiguous finished prefix may be committed: committing past a record still
 * in flight would lose it if the process stopped now.
 */
export class PartitionProgress {
  private readonly started: bigint[] = [];
  private readonly finished = new Set<bigint>();
  private head = 0;

  start(offset: string): void {
    this.started.push(BigInt(offset));
  }

  /** Marks `offset` finished; returns the offset to commit (next to read) when the prefix grew. */
  finish(offset: string): string | undefined {
    this.finished.add(BigInt(offset));
    let next: bigint | undefined;
    while (this.head < this.started.length && this.finished.has(this.started[this.head]!)) {
      const done = this.started[this.head]!;
      this.finished.delete(done);
      next = done + 1n;
      this.head++;
    }
    if (this.head > 1024) {
      this.started.splice(0, this.head);
      this.head = 0;
    }
    return next === undefined ? undefined : next.toString();
  }
}

interface Commit {
  topic: string;
  partition: number;
  offset: string;
}

/**
 * Commits offsets one request at a time, coalescing what piles up meanwhile to the latest offset
 * per partition. A failed commit (a rebalance took the partition away) only means redelivery.
 */
export class OffsetCommitter {
  private readonly wanted = new Map<string, Commit>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly consumer: Consumer,
    private readonly logger: Logger,
  ) {}

  request(commit: Commit): void {
    this.wanted.set(`${commit.topic}\u0000${commit.partition}`, commit);
    this.running ??= this.flush();
  }

  /** Resolves once every requested commit was attempted. */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  private async flush(): Promise<void> {
    try {
      while (this.wanted.size > 0) {
        const batch = [...this.wanted.values()];
        this.wanted.clear();
        try {
          await this.consumer.commitOffsets(batch);
        } catch (error) {
          this.logger.warn(
            { err: error, offsets: batch },
            "offset commit failed (records will be redelivered)",
          );
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}
