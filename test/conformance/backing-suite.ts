import { afterEach, beforeEach, describe } from "vitest";
import type { Backing, Subscription } from "../../src/backing/backing.js";
import { Gate } from "./conformance-support.js";
import { deliveryCases } from "./suite-delivery.js";
import { flowControlCases } from "./suite-flow-control.js";
import { DELIVERY_MS, type SuiteHarness, UNORDERED } from "./suite-harness.js";

/**
 * The one suite every Backing passes unchanged (memory, Redis Streams, NATS JetStream, Kafka).
 *
 * What it takes for granted, beyond backing.ts:
 * - `subscribe()` resolves once the consumer exists: every event published after that reaches it.
 * - Closing a subscription, or the backing, twice is harmless.
 * - `factory` returns a fresh backing per test, or undefined when its engine is unavailable
 *   (the test is then skipped). `cleanup` runs after `backing.close()`.
 */
export type BackingFactory = () => Promise<
  { backing: Backing; cleanup?: () => Promise<void> } | undefined
>;

export interface BackingConformanceOptions {
  /** How long the backing may take to redeliver an unacknowledged event (claim idle, ack wait). */
  readonly redeliveryTimeoutMs?: number;
}

export function describeBackingConformance(
  name: string,
  factory: BackingFactory,
  options: BackingConformanceOptions = {},
): void {
  const redeliveryMs = options.redeliveryTimeoutMs ?? 10_000;

  describe(`${name} backing conformance`, () => {
    let backing: Backing | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    const subscriptions: Subscription[] = [];

    beforeEach(async (context) => {
      const made = await factory();
      if (!made) {
        context.skip(`${name} backing unavailable`);
        return;
      }
      backing = made.backing;
      cleanup = made.cleanup;
    });

    afterEach(async () => {
      Gate.releaseAll();
      await Promise.all(subscriptions.splice(0).map((s) => s.close(5_000)));
      await backing?.close();
      await cleanup?.();
      backing = undefined;
      cleanup = undefined;
    });

    const harness: SuiteHarness = {
      backing() {
        if (!backing) throw new Error("no backing for this test");
        return backing;
      },
      async subscribe(stream, consumer, recorder, subscribeOptions = UNORDERED) {
        const subscription = await harness
          .backing()
          .subscribe(stream, consumer, recorder.handler, subscribeOptions);
        subscriptions.push(subscription);
        return subscription;
      },
      redeliveryMs,
      testTimeout: 2 * DELIVERY_MS + 2 * redeliveryMs,
    };

    deliveryCases(harness);
    flowControlCases(harness);
  });
}
