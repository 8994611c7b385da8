import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { delivery, harness, labels, sampleEvent, series, sink, until, waits } from "./harness.js";
import { counterValue } from "./sink.js";

/**
 * The waits between attempts are asserted as the dispatcher scheduled them (through its
 * startRetryTimer option, which still starts a real timer), so a loaded machine cannot fail them.
 * Wall time gets one-sided bounds only: a timer never fires early, so the subscriber saw at least
 * the scheduled wait.
 */
interface ScheduledWait {
  readonly ms: number;
  /** Date.now() when the wait was scheduled. */
  readonly at: number;
}

function recordingTimer() {
  const scheduled: ScheduledWait[] = [];
  const startRetryTimer = (resume: () => void, ms: number) => {
    scheduled.push({ ms, at: Date.now() });
    return setTimeout(resume, ms);
  };
  return { scheduled, startRetryTimer };
}

/** Node may run a timer up to 1 ms before its nominal time, by rounding. */
const TIMER_ROUNDING_MS = 1;

function expectWaitedAtLeast(gaps: readonly number[], scheduled: readonly ScheduledWait[]) {
  expect(gaps).toHaveLength(scheduled.length);
  gaps.forEach((gap, i) => {
    expect(gap, `gap ${i + 1}`).toBeGreaterThanOrEqual(scheduled[i]!.ms - TIMER_ROUNDING_MS);
  });
}

describe("backoff between attempts", () => {
  it.each([
    { policy: "linear" as const, expected: [200, 400, 600] },
    { policy: "exponential" as const, expected: [200, 400, 800] },
  ])("$policy from 200 ms waits $expected ms", async ({ policy, expected }) => {
    const subscriber = await sink((_, n) => ({ status: n === 4 ? 202 : 500 }));
    const timer = recordingTimer();
    const { dispatcher } = harness({ startRetryTimer: timer.startRetryTimer });

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 3, backoffPolicy: policy, backoffDelayMs: 200 }),
      labels,
    );

    expect(outcome).toMatchObject({ kind: "delivered", attempts: 4 });
    expect(timer.scheduled.map((w) => w.ms)).toEqual(expected);
    expectWaitedAtLeast(waits(subscriber.requests), timer.scheduled);
  });
});

describe("Retry-After", () => {
  it("429 with Retry-After: 1 delays the next attempt by 1 s", async () => {
    const subscriber = await sink((_, n) =>
      n === 1 ? { status: 429, headers: { "retry-after": "1" } } : { status: 202 },
    );
    const timer = recordingTimer();
    const { dispatcher } = harness({ startRetryTimer: timer.startRetryTimer });

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 1, backoffDelayMs: 100 }),
      labels,
    );

    expect(outcome).toMatchObject({ kind: "delivered", status: 202, attempts: 2 });
    expect(timer.scheduled.map((w) => w.ms)).toEqual([1000]);
    expectWaitedAtLeast(waits(subscriber.requests), timer.scheduled);
  });

  it("503 with an HTTP-date Retry-After waits until that date", async () => {
    // Whole seconds, as HTTP-dates have, and far enough ahead to stay in the future.
    const until = Math.ceil((Date.now() + 2500) / 1000) * 1000;
    const subscriber = await sink((_, n) =>
      n === 1
        ? { status: 503, headers: { "retry-after": new Date(until).toUTCString() } }
        : { status: 202 },
    );
    const timer = recordingTimer();
    const { dispatcher } = harness({ startRetryTimer: timer.startRetryTimer });

    await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 1, backoffDelayMs: 100 }),
      labels,
    );

    expect(timer.scheduled).toHaveLength(1);
    const [wait] = timer.scheduled;
    // The wait ends at the date: the delay was computed from the clock just before it was started.
    expect(Math.abs(wait!.at + wait!.ms - until)).toBeLessThanOrEqual(50);
    expect(wait!.ms).toBeGreaterThan(100);
    expectWaitedAtLeast(waits(subscriber.requests), timer.scheduled);
  });

  it.each([
    {
      name: "a long Retry-After is capped by retryAfterMax",
      header: "60",
      max: 300,
      expected: 300,
    },
    { name: "retryAfterMax 0 ignores Retry-After", header: "5", max: 0, expected: 200 },
    {
      name: "a Retry-After shorter than the backoff waits the backoff",
      header: "0",
      max: 5000,
      expected: 200,
    },
  ])("$name", async ({ header, max, expected }) => {
    const subscriber = await sink((_, n) =>
      n === 1 ? { status: 429, headers: { "retry-after": header } } : { status: 202 },
    );
    const timer = recordingTimer();
    const { dispatcher } = harness({ startRetryTimer: timer.startRetryTimer });

    await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 1, backoffDelayMs: 200, retryAfterMaxMs: max }),
      labels,
    );

    expect(timer.scheduled.map((w) => w.ms)).toEqual([expected]);
    expectWaitedAtLeast(waits(subscriber.requests), timer.scheduled);
  });
});

describe("per-attempt timeout", () => {
  it("a subscriber that never answers is cut after timeout and retried", async () => {
    const subscriber = await sink(() => "hang");
    const timer = recordingTimer();
    const { dispatcher, metrics } = harness({ startRetryTimer: timer.startRetryTimer });
    const started = performance.now();

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 1, timeoutMs: 500, backoffDelayMs: 100 }),
      labels,
    );

    const elapsed = performance.now() - started;
    expect(outcome).toMatchObject({
      kind: "dropped",
      attempts: 2,
      reason: "delivery-failed",
      status: undefined,
    });
    expect(subscriber.requests).toHaveLength(2);
    expect(timer.scheduled.map((w) => w.ms)).toEqual([100]);
    // Each attempt lasted its whole timeout (500 ms), with the 100 ms backoff between: the whole
    // delivery took at least 1,100 ms on the dispatcher's side. At the subscriber the first
    // arrival may be stamped late on a busy machine (its handler runs after the request left),
    // so the gap between arrivals is held only to the timeout, with the backoff as slack.
    const [gap] = subscriber.requests.slice(1).map((r, i) => r.at - subscriber.requests[i]!.at);
    expect(gap).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeGreaterThanOrEqual(1100 - TIMER_ROUNDING_MS);
    expect(await counterValue(metrics.deliveryAttempts, { ...series, code: "timeout" })).toBe(2);
  });
});

describe("shutdown and keep-alive", () => {
  it("the abort signal cancels a backoff wait: dropped as shutdown, not counted as dropped", async () => {
    const subscriber = await sink(() => ({ status: 503, headers: { "retry-after": "30" } }));
    const timer = recordingTimer();
    const { dispatcher, metrics } = harness({ startRetryTimer: timer.startRetryTimer });
    const shutdown = new AbortController();

    const pending = dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 3 }),
      labels,
      {
        signal: shutdown.signal,
      },
    );
    // The dispatcher is waiting out the 30 s Retry-After once it has started that timer.
    await until(() => timer.scheduled.length === 1, "the Retry-After wait");
    expect(timer.scheduled[0]!.ms).toBe(30_000);
    const abortedAt = performance.now();
    shutdown.abort();
    const outcome = await pending;

    // Well under the 30 s it would otherwise have waited.
    expect(performance.now() - abortedAt).toBeLessThan(10_000);
    expect(outcome).toMatchObject({
      kind: "dropped",
      attempts: 1,
      reason: "shutdown",
      status: 503,
    });
    expect(await counterValue(metrics.droppedEvents, { namespace: "ns1" })).toBe(0);
  });

  it("the abort signal cancels an attempt in flight", async () => {
    const subscriber = await sink(() => "hang");
    const { dispatcher } = harness();
    const shutdown = new AbortController();

    const pending = dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 3 }),
      labels,
      {
        signal: shutdown.signal,
      },
    );
    await until(() => subscriber.requests.length === 1);
    shutdown.abort();

    expect(await pending).toMatchObject({ kind: "dropped", attempts: 1, reason: "shutdown" });
  });

  it("an already-aborted signal sends nothing", async () => {
    const subscriber = await sink();
    const { dispatcher } = harness();

    const outcome = await dispatcher.deliver(sampleEvent(), subscriber.url, delivery(), labels, {
      signal: AbortSignal.abort(),
    });

    expect(outcome).toMatchObject({ kind: "dropped", reason: "shutdown" });
    expect(subscriber.requests).toHaveLength(0);
  });

  it("close() cancels deliveries still in flight", async () => {
    const subscriber = await sink(() => "hang");
    const { dispatcher } = harness();

    const pending = dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 3 }),
      labels,
    );
    await until(() => subscriber.requests.length === 1);
    await dispatcher.close();

    expect(await pending).toMatchObject({ kind: "dropped", reason: "shutdown" });
  });

  it("keepAlive is called while an attempt runs and between attempts", async () => {
    const subscriber = await sink((_, n) => (n === 1 ? "hang" : { status: 202 }));
    const { dispatcher } = harness({ keepAliveIntervalMs: 100 });
    let calls = 0;

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 1, timeoutMs: 550 }),
      labels,
      { keepAlive: () => calls++ },
    );

    expect(outcome.kind).toBe("delivered");
    // Ticks during the 550 ms attempt (about 5; fewer when the machine is busy), plus the call
    // between the attempts.
    expect(calls).toBeGreaterThanOrEqual(2);
    const settled = calls;
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(calls).toBe(settled);
  });
});
