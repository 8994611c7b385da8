import type { Responder } from "../support/sink.js";

/** The status a subscriber answers to the `attempt`-th request (1-based) carrying event `id`. */
export type AnswerPolicy = (id: string, attempt: number) => number;

/**
 * What one subscriber saw, per event id: attempts, and deliveries it answered with 2xx. Its
 * `responder` plugs into a RecordingSink, so the answers come from a real HTTP server.
 */
export class DeliveryLedger {
  private readonly attempts = new Map<string, number>();
  private readonly successes = new Map<string, number>();
  private successTotal = 0;

  constructor(private readonly policy: AnswerPolicy = () => 202) {}

  readonly responder: Responder = (request) => {
    const id = request.event?.attributes["id"];
    if (typeof id !== "string") return { status: 400 };
    const attempt = (this.attempts.get(id) ?? 0) + 1;
    this.attempts.set(id, attempt);
    const status = this.policy(id, attempt);
    if (status >= 200 && status < 300) {
      this.successes.set(id, (this.successes.get(id) ?? 0) + 1);
      this.successTotal++;
    }
    return { status };
  };

  /** Requests seen so far carrying `id`. */
  attemptsOf(id: string): number {
    return this.attempts.get(id) ?? 0;
  }

  /** Distinct ids answered 2xx at least once. */
  get delivered(): number {
    return this.successes.size;
  }

  /** 2xx answers beyond the first per id. */
  get duplicates(): number {
    return this.successTotal - this.successes.size;
  }

  /** Ids the subscriber has seen but not yet answered 2xx: refused and waiting for a retry. */
  awaitingRetry(): string[] {
    return [...this.attempts.keys()].filter((id) => !this.successes.has(id));
  }

  /** Of `ids`, those never answered 2xx. */
  missing(ids: Iterable<string>): string[] {
    return [...ids].filter((id) => !this.successes.has(id));
  }

  /** Ids answered 2xx more than once. */
  duplicated(): string[] {
    return [...this.successes].filter(([, count]) => count > 1).map(([id]) => id);
  }

  /** Ids the subscriber saw that are not in `ids` (it must never invent events). */
  unexpected(ids: ReadonlySet<string>): string[] {
    return [...this.attempts.keys()].filter((id) => !ids.has(id));
  }
}
