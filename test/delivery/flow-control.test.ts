import { describe, expect, it } from "vitest";
import { DeliveryPace } from "../../src/delivery/pace.js";
import { delivery, harness, labels, sampleEvent, sink } from "./harness.js";

/** Records the waits the dispatcher schedules (its startRetryTimer seam), and lets them run. */
function recordingTimer() {
  const scheduled: number[] = [];
  const startRetryTimer = (resume: () => void, ms: number) => {
    scheduled.push(ms);
    return setTimeout(resume, ms);
  };
  return { scheduled, startRetryTimer };
}

describe("flow control in the Dispatcher", () => {
  it("max-backoff caps every backoff the policy computes", async () => {
    const subscriber = await sink((_, n) => ({ status: n <= 3 ? 500 : 202 }));
    const timer = recordingTimer();
    const { dispatcher } = harness({ startRetryTimer: timer.startRetryTimer });
    const outcome = await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 3, backoffPolicy: "exponential", backoffDelayMs: 100, maxBackoffMs: 150 }),
      labels,
    );
    expect(outcome).toMatchObject({ kind: "delivered", attempts: 4 });
    // Uncapped: 100, 200, 400.
    expect(timer.scheduled).toEqual([100, 150, 150]);
  });

  it("the pace spaces attempts of concurrent deliveries, retries included", async () => {
    let refused = false;
    const subscriber = await sink((request) => {
      if (request.headers["ce-id"] !== "retried" || refused) return { status: 202 };
      refused = true;
      return { status: 503 };
    });
    const timer = recordingTimer();
    const { dispatcher } = harness({ startRetryTimer: timer.startRetryTimer });
    // A pace on a clock that stands still: each reservation is exactly one slot after the last.
    const pace = new DeliveryPace(20, () => 0);
    const options = delivery({ retry: 1, backoffDelayMs: 1, pace });
    const outcomes = await Promise.all(
      ["a", "retried", "b"].map((id) =>
        dispatcher.deliver(sampleEvent({ id }), subscriber.url, options, labels),
      ),
    );
    expect(outcomes.map((o) => o.kind)).toEqual(["delivered", "delivered", "delivered"]);
    expect(subscriber.requests).toHaveLength(4);
    // The three first attempts took slots 0, 50 and 100 ms; the retry waited its 1 ms backoff,
    // then the next slot, 150 ms.
    expect(timer.scheduled.filter((ms) => ms !== 1)).toEqual([50, 100, 150]);
    expect(timer.scheduled.filter((ms) => ms === 1)).toHaveLength(1);
    const arrivals = subscriber.requests.map((r) => r.at);
    expect(arrivals[3]! - arrivals[0]!).toBeGreaterThanOrEqual(100);
  });
});
