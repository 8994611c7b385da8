import { setTimeout as sleep } from "node:timers/promises";
import type { Consumer } from "kafkajs";
import type { Logger } from "../../observability/logger.js";
import type { KafkaAdmin } from "./admin.js";

const METADATA_PREFIX = "eventail:started=";

/**
 * Positions a consumer group after each join, and remembers what the group's commits say about
 * records earlier holders had started on.
 *
 * A brand-new group has no committed offsets, and kafkajs would start it at "latest" without
 * storing that: a process that died before its first commit would let the next one start at a
 * later "latest" and skip what was published in between. So every assigned partition without a
 * committed offset gets the current end committed explicitly before subscribe() resolves.
 */
export class GroupPosition {
  private generation = 0;
  private settled = -1;
  private cancelled = false;
  private current: Promise<void> = new Promise(() => {});
  private firstResolved = false;
  private resolveFirst: () => void = () => {};
  private readonly first = new Promise<void>((resolve) => {
    this.resolveFirst = resolve;
  });
  /** Per partition: records below this offset were handed to a handler before (any process). */
  private readonly startedBelow = new Map<number, number>();

  constructor(
    private readonly admin: KafkaAdmin,
    private readonly topic: string,
    private readonly groupId: string,
    private readonly logger: Logger,
  ) {}

  /** Offset-commit metadata recording how far handlers had got. */
  static metadata(startedEnd: number): string {
    return `${METADATA_PREFIX}${startedEnd}`;
  }

  joined(consumer: Consumer, partitions: readonly number[]): void {
    const generation = ++this.generation;
    this.current = this.settle(generation, consumer, partitions);
  }

  /** True once any join has been positioned, false after `ms` without one. */
  async waitFirst(ms: number): Promise<boolean> {
    if (this.firstResolved) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const ok = await Promise.race([this.first.then(() => true), timeout]);
    clearTimeout(timer);
    return ok;
  }

  /** Waits (at most `ms`) for the latest join's position, so delivery counts can use it. */
  async ready(ms: number): Promise<void> {
    if (this.settled === this.generation) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.current,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }

  wasStarted(partition: number, offset: number): boolean {
    return offset < (this.startedBelow.get(partition) ?? 0);
  }

  cancel(): void {
    this.cancelled = true;
  }

  private async settle(
    generation: number,
    consumer: Consumer,
    partitions: readonly number[],
  ): Promise<void> {
    while (generation === this.generation && !this.cancelled) {
      try {
        await this.position(consumer, partitions);
        if (generation !== this.generation) return;
        this.settled = generation;
        this.firstResolved = true;
        this.resolveFirst();
        return;
      } catch (error) {
        this.logger.debug(
          { group: this.groupId, err: error },
          "positioning the Kafka consumer group failed; retrying",
        );
        await sleep(500);
      }
    }
  }

  private async position(consumer: Consumer, partitions: readonly number[]): Promise<void> {
    if (partitions.length === 0) return;
    const groupId = this.groupId;
    const committed = await this.admin.use((admin) =>
      admin.fetchOffsets({ groupId, topics: [this.topic] }),
    );
    const entries = committed.find((entry) => entry.topic === this.topic)?.partitions ?? [];
    const missing: number[] = [];
    for (const partition of partitions) {
      const entry = entries.find((candidate) => candidate.partition === partition);
      if (entry === undefined || Number(entry.offset) < 0) {
        missing.push(partition);
        continue;
      }
      const metadata = entry.metadata ?? "";
      if (metadata.startsWith(METADATA_PREFIX)) {
        const startedEnd = Number(metadata.slice(METADATA_PREFIX.length));
        if (Number.isSafeInteger(startedEnd)) this.startedBelow.set(partition, startedEnd);
      }
    }
    if (missing.length === 0) return;
    const ends = await this.admin.use((admin) => admin.fetchTopicOffsets(this.topic));
    const commits = ends
      .filter((end) => missing.includes(end.partition))
      .map((end) => ({ topic: this.topic, partition: end.partition, offset: end.high }));
    if (commits.length < missing.length) {
      throw new Error(`no end offset for some partitions of ${this.topic}`);
    }
    await consumer.commitOffsets(commits);
  }
}
