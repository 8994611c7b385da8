import type { Backing, SubscribeOptions, Subscription } from "../../src/backing/backing.js";
import type { Recorder } from "./conformance-support.js";

/** Durable engines and the Kafka mock need seconds for group joins and first fetches. */
export const DELIVERY_MS = 20_000;
/** How long to keep watching for deliveries that must not happen. */
export const QUIET_MS = 500;

export const UNORDERED: SubscribeOptions = { concurrency: 8, ordered: false };

/** What every conformance case gets: the test's backing and a subscribe that cleans up after it. */
export interface SuiteHarness {
  backing(): Backing;
  subscribe(
    stream: string,
    consumer: string,
    recorder: Recorder,
    options?: SubscribeOptions,
  ): Promise<Subscription>;
  /** How long the backing may take to redeliver an unacknowledged event. */
  readonly redeliveryMs: number;
  readonly testTimeout: number;
}
