import type { Logger } from "../../observability/logger.js";

/** QoS 0 messages one MQTT connection works on at once; beyond it new ones are dropped. */
export const QOS0_IN_FLIGHT_LIMIT = 100;

/**
 * Runs the work of QoS 0 messages, at most `limit` at a time. mqtt.js hands a QoS 0 message over
 * and reads the next at once (there is no PUBACK to hold back), so a slow or down sink would let
 * deliveries pile up without bound. QoS 0 is at-most-once: past the limit a message is dropped,
 * counted, and each overload logged once when it starts and once, with its count, when in-flight
 * work has fallen to half the limit (so a sustained overload does not log per message).
 */
export class AtMostOnce {
  #inFlight = 0;
  #dropped = 0;
  #droppedInOverload = 0;

  constructor(
    private readonly logger: Logger,
    private readonly what: string,
    private readonly limit = QOS0_IN_FLIGHT_LIMIT,
  ) {}

  /** QoS 0 messages dropped so far. */
  get dropped(): number {
    return this.#dropped;
  }

  run(work: () => Promise<unknown>): void {
    if (this.#inFlight >= this.limit) {
      this.#dropped++;
      if (this.#droppedInOverload++ === 0) {
        this.logger.warn(
          { limit: this.limit },
          `${this.what}: QoS 0 messages dropped, ${this.limit} already in flight`,
        );
      }
      return;
    }
    this.#inFlight++;
    void work()
      .catch(() => undefined)
      .finally(() => {
        this.#inFlight--;
        if (this.#droppedInOverload > 0 && this.#inFlight <= this.limit / 2) {
          this.logger.warn(
            { dropped: this.#droppedInOverload, limit: this.limit },
            `${this.what}: QoS 0 overload over`,
          );
          this.#droppedInOverload = 0;
        }
      });
  }
}
