import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { delivery, harness, labels, sampleEvent, series, sink, until, waits } from "./harness.js";
import { counterValue } from "./sink.js";

/** Timers never fire early; 20% above leaves room for a loaded machine. */
function expectWithin20Percent(actual: number, expected: number) {
  expect(actual, `waited ${actual} ms, expected ${expected} ms`).toBeGreaterThanOrEqual(
    expected * 0.8,
  );
  expect(actual, `waited ${actual} ms, expected ${expected} ms`).toBeLessThanOrEqual(
    expected * 1.2,
  );
}

describe("backoff between attempts", () => {
  it.each([
    { policy: "linear" as const, expected: [200, 400, 600] },
    { policy: "exponential" as const, expected: [200, 400, 800] },
  ])("$policy from 200 ms waits $expected ms", async ({ policy, expected }) => {
    const subscriber = await sink((_, n) => ({ status: n === 2 ? 202 : 500 }));
    const { dispatcher } = harness();
    // A first delivery (500, then 202) warms the connection and the retry path, so the first
    // measured wait is not paying for them.
    await dispatcher.deliver(sampleEvent(), subscriber.url, delivery({ retry: 1 }), labels);

    await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 3, backoffPolicy: policy, backoffDelayMs: 200 }),
      labels,
    );

    const measured = waits(subscriber.requests.slice(2));
    expect(measured).toHaveLength(3);
    measured.forEach((gap, i) => {
      expectWithin20Percent(gap, expected[i]!);
    });
  });
});

describe("Retry-After", () => {
  it("429 with Retry-After: 1 delays the next attempt by at least 1 s", async () => {
    const subscriber = await sink((_, n) =>
      n === 1 ? { status: 429, headers: { "retry-after": "1" } } : { status: 202 },
    );
    const { dispatcher } = harness();

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 1, backoffDelayMs: 100 }),
      labels,
    );

    expect(outcome).toMatchObject({ kind: "delivered", status: 202, attempts: 2 });
    const [gap] = waits(subscriber.requests);
    expect(gap).toBeGreaterThanOrEqual(1000);
    expect(gap).toBeLessThan(1300);
  });

  it("503 with an HTTP-date Retry-After waits until that date", async () => {
    const subscriber = await sink((_, n) =>
      n === 1
        ? { status: 503, headers: { "retry-after": new Date(Date.now() + 2000).toUTCString() } }
        : { status: 202 },
    );
    const { dispatcher } = harness();

    await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 1, backoffDelayMs: 100 }),
      labels,
    );

    // HTTP-dates have whole seconds: the wait is between 1 and 2 s.
    const [gap] = waits(subscriber.requests);
    expect(gap).toBeGreaterThanOrEqual(1000);
    expect(gap).toBeLessThan(2300);
  });

  it.each([
    {
      name: "a long Retry-After is capped by retryAfterMax",
      header: "60",
      max: 300,
      expected: 300,
    },
    { name: "retryAfterMax 0 ignores Retry-After", header: "5", max: 0, expected: 200 },
  ])("$name", async ({ header, max, expected }) => {
    const subscriber = await sink((_, n) =>
      n === 1 ? { status: 429, headers: { "retry-after": header } } : { status: 202 },
    );
    const { dispatcher } = harness();

    await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 1, backoffDelayMs: 200, retryAfterMaxMs: max }),
      labels,
    );

    const [gap] = waits(subscriber.requests);
    expectWithin20Percent(gap!, expected);
  });
});

describe("per-attempt timeout", () => {
  it("a subscriber that never answers is cut after timeout and retried", async () => {
    const subscriber = await sink(() => "hang");
    const { dispatcher, metrics } = harness();
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
    const [gap] = subscriber.requests.slice(1).map((r, i) => r.at - subscriber.requests[i]!.at);
    expectWithin20Percent(gap!, 600);
    expectWithin20Percent(elapsed, 1100);
    expect(await counterValue(metrics.deliveryAttempts, { ...series, code: "timeout" })).toBe(2);
  });
});

describe("shutdown and keep-alive", () => {
  it("the abort signal cancels a backoff wait: dropped as shutdown, not counted as dropped", async () => {
    const subscriber = await sink(() => ({ status: 503, headers: { "retry-after": "30" } }));
    const { dispatcher, metrics } = harness();
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
    // Let the 503 reach the dispatcher so it is waiting out the Retry-After.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const abortedAt = performance.now();
    shutdown.abort();
    const outcome = await pending;

    expect(performance.now() - abortedAt).toBeLessThan(200);
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
    // ~5 ticks during the 550 ms attempt, plus one between the attempts.
    expect(calls).toBeGreaterThanOrEqual(5);
    const settled = calls;
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(calls).toBe(settled);
  });
});
