/**
 * A producer that keeps posting batches to broker ingress until told to stop, recording when
 * each request started and ended and what it got, so a test can judge the answers given while
 * a fault lasted apart from those given before it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { postBatch } from "./producer.js";

export interface LoadRequest {
  readonly startedAt: number;
  readonly finishedAt: number;
  /** HTTP status; 0 when no answer came within the request timeout. */
  readonly status: number;
  readonly ids: readonly string[];
}

export interface SteadyLoadOptions {
  readonly batchSize: number;
  /** Requests in flight at once. */
  readonly concurrency: number;
  /** Each worker waits this long between its requests. */
  readonly pauseMs: number;
  /** A request with no answer after this long counts as status 0. */
  readonly timeoutMs: number;
}

export class SteadyLoad {
  readonly requests: LoadRequest[] = [];
  /** Ids of events in batches answered 202. */
  readonly accepted = new Set<string>();
  /** Ids of every event posted, answered or not. */
  readonly sent = new Set<string>();
  private running = true;
  private next = 0;
  private readonly workers: Promise<void>[];

  private constructor(
    private readonly url: string,
    private readonly prefix: string,
    private readonly options: SteadyLoadOptions,
  ) {
    this.workers = Array.from({ length: options.concurrency }, () => this.work());
  }

  static start(url: string, prefix: string, options: SteadyLoadOptions): SteadyLoad {
    return new SteadyLoad(url, prefix, options);
  }

  private async work(): Promise<void> {
    while (this.running) {
      const ids = Array.from(
        { length: this.options.batchSize },
        () => `${this.prefix}-${this.next++}`,
      );
      for (const id of ids) this.sent.add(id);
      const startedAt = Date.now();
      const status = await postBatch(this.url, ids, this.options.timeoutMs);
      this.requests.push({ startedAt, finishedAt: Date.now(), status, ids });
      if (status === 202) for (const id of ids) this.accepted.add(id);
      await sleep(this.options.pauseMs);
    }
  }

  /** Stops sending and waits for the requests in flight to be answered. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  /** Requests that started at or after `from` and were answered by `to`. */
  within(from: number, to: number): LoadRequest[] {
    return this.requests.filter((r) => r.startedAt >= from && r.finishedAt <= to);
  }
}
