import type { Logger } from "../observability/logger.js";

/**
 * Work a source starts without waiting for it (a QoS 0 MQTT message, a PingSource tick), at most
 * `limit` at a time: nothing upstream slows down for it, so a slow or down sink would otherwise
 * let deliveries pile up without bound. Past the limit new work is skipped and counted; each
 * overload is logged once when it starts and once, with its count, when in-flight work has
 * fallen to half the limit (a sustained overload does not log per skip).
 */
export class BoundedWork {
  #inFlight = 0;
  #skipped = 0;
  #skippedInOverload = 0;

  constructor(
    private readonly logger: Logger,
    /** What is skipped, for the log, e.g. "MqttSource: QoS 0 messages". */
    private readonly what: string,
    private readonly limit: number,
  ) {}

  /** Work skipped so far because `limit` was in flight. */
  get skipped(): number {
    return this.#skipped;
  }

  run(work: () => Promise<unknown>): void {
    if (this.#inFlight >= this.limit) {
      this.#skipped++;
      if (this.#skippedInOverload++ === 0) {
        this.logger.warn(
          { limit: this.limit },
          `${this.what} skipped: ${this.limit} already in flight (is the sink down?)`,
        );
      }
      return;
    }
    this.#inFlight++;
    void work()
      .catch((error: unknown) => this.logger.error({ err: error }, `${this.what}: work failed`))
      .finally(() => {
        this.#inFlight--;
        if (this.#skippedInOverload > 0 && this.#inFlight <= this.limit / 2) {
          this.logger.warn(
            { skipped: this.#skippedInOverload, limit: this.limit },
            `${this.what}: overload over`,
          );
          this.#skippedInOverload = 0;
        }
      });
  }
}
