/**
 * Where one assigned partition stands: records handed to the handler in offset order may finish
 * in any order, but Kafka stores a single offset per partition, so only the finished prefix is
 * committed. Whatever is past the first unfinished record is delivered again after a crash.
 */
export class PartitionProgress {
  private readonly offsets: number[] = [];
  private readonly finished = new Set<number>();
  private next: number | undefined;
  private started = -1;
  /** What the last successful commit stored, to skip commits that would change nothing. */
  private stored: { offset: number; startedEnd: number } | undefined;
  /** Set when the partition moved to another consumer: late acks must not commit anything. */
  revoked = false;

  constructor(readonly partition: number) {}

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

  /** Kafka's committed offset is the next record to read: the first unfinished one. */
  get committable(): number | undefined {
    return this.offsets.length > 0 ? this.offsets[0] : this.next;
  }

  /** One past the highest record a handler has started on. */
  get startedEnd(): number {
    return this.started + 1;
  }

  /** The commit that would bring Kafka up to date, or undefined when it already is. */
  pendingCommit(): { offset: number; startedEnd: number } | undefined {
    const offset = this.committable;
    if (offset === undefined || this.revoked) return undefined;
    const startedEnd = Math.max(this.startedEnd, offset);
    if (this.stored?.offset === offset && this.stored.startedEnd === startedEnd) return undefined;
    return { offset, startedEnd };
  }

  committed(commit: { offset: number; startedEnd: number }): void {
    this.stored = commit;
  }
}
