import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodeHttpRequest } from "../../src/events/http-binding.js";
import { freePort } from "../support/services.js";
import { delivery, harness, labels, sampleEvent, series, sink } from "./harness.js";
import { counterValue, type ReceivedRequest } from "./sink.js";

function decodedAt(request: ReceivedRequest) {
  return decodeHttpRequest(request.headers, request.body).events[0]!;
}

describe("which responses are retried (retry: 2)", () => {
  it.each([
    { status: 400, attempts: 1, why: "bad request fails the same way again" },
    { status: 401, attempts: 1, why: "unauthorised is not transient" },
    { status: 403, attempts: 1, why: "forbidden is not transient" },
    { status: 404, attempts: 3, why: "the subscriber may not be routed yet" },
    { status: 408, attempts: 3, why: "request timeout is transient" },
    { status: 409, attempts: 3, why: "conflict may clear" },
    { status: 413, attempts: 1, why: "too large stays too large" },
    { status: 422, attempts: 1, why: "unprocessable stays unprocessable" },
    { status: 429, attempts: 3, why: "too many requests asks for a later try" },
    { status: 500, attempts: 3, why: "server errors are transient" },
    { status: 502, attempts: 3, why: "bad gateway is transient" },
    { status: 503, attempts: 3, why: "unavailable is transient" },
    { status: 301, attempts: 1, why: "redirects are not followed" },
  ])("$status → $attempts attempt(s): $why", async ({ status, attempts }) => {
    const subscriber = await sink(() => ({ status, headers: { location: "http://127.0.0.1:1/" } }));
    const { dispatcher, metrics } = harness();

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 2 }),
      labels,
    );

    expect(subscriber.requests).toHaveLength(attempts);
    expect(outcome).toMatchObject({ kind: "dropped", attempts, reason: "delivery-failed", status });
    expect(await counterValue(metrics.deliveryAttempts, { ...series, code: status })).toBe(
      attempts,
    );
  });

  it("a success after failures ends the retries", async () => {
    const subscriber = await sink((_, n) => ({ status: n < 3 ? 503 : 200 }));
    const { dispatcher, metrics } = harness();

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 5 }),
      labels,
    );

    expect(outcome).toMatchObject({ kind: "delivered", status: 200, attempts: 3 });
    expect(subscriber.requests).toHaveLength(3);
    expect(await counterValue(metrics.deliveryAttempts, { ...series, code: 503 })).toBe(2);
    expect(await counterValue(metrics.deliveryAttempts, { ...series, code: 200 })).toBe(1);
  });
});

describe("dead letters", () => {
  const errorBody = Buffer.from("e".repeat(1000) + "f".repeat(1000));

  it.each([
    {
      name: "500 with retry: 3 → 4 attempts, then the dead-letter sink",
      status: 500,
      retry: 3,
      attempts: 4,
    },
    {
      name: "422 is not retried → 1 attempt, then the dead-letter sink",
      status: 422,
      retry: 3,
      attempts: 1,
    },
  ])(
    "$name, with knativeerrordest/code/data from a 2,000-byte body",
    async ({ status, retry, attempts }) => {
      const subscriber = await sink(() => ({
        status,
        headers: { "content-type": "text/plain" },
        body: errorBody,
      }));
      const deadLetters = await sink();
      const { dispatcher, metrics } = harness();
      const event = sampleEvent({ knativebrokerttl: 200 }, Buffer.from('{"n":1}'));

      const outcome = await dispatcher.deliver(
        event,
        subscriber.url,
        delivery({ retry, deadLetterSink: deadLetters.url }),
        labels,
      );

      expect(outcome).toMatchObject({ kind: "dead-lettered", attempts, status });
      expect(subscriber.requests).toHaveLength(attempts);
      expect(deadLetters.requests).toHaveLength(1);
      const letter = decodedAt(deadLetters.requests[0]!);
      expect(letter.attributes).toEqual({
        specversion: "1.0",
        id: "evt-1",
        source: "/test/source",
        type: "com.example.test",
        knativeerrordest: subscriber.url,
        knativeerrorcode: String(status),
        knativeerrordata: errorBody.subarray(0, 1024).toString("base64"),
      });
      expect(letter.data?.toString()).toBe('{"n":1}');
      expect(await counterValue(metrics.deadLetters, series)).toBe(1);
      expect(await counterValue(metrics.droppedEvents, { namespace: "ns1" })).toBe(0);
    },
  );

  it("a 1 MiB random binary error body gives knativeerrordata = base64 of its first 1024 bytes", async () => {
    const body = randomBytes(1024 * 1024);
    const subscriber = await sink(() => ({
      status: 500,
      headers: { "content-type": "application/octet-stream" },
      body,
    }));
    const deadLetters = await sink();
    const { dispatcher } = harness();

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 1, deadLetterSink: deadLetters.url }),
      labels,
    );

    expect(outcome).toMatchObject({ kind: "dead-lettered", attempts: 2, status: 500 });
    const letter = decodedAt(deadLetters.requests[0]!);
    expect(letter.attributes["knativeerrordata"]).toBe(body.subarray(0, 1024).toString("base64"));
  });

  it("connection refused is retried, then dead-lettered without knativeerrorcode or knativeerrordata", async () => {
    const url = `http://127.0.0.1:${await freePort()}/gone`;
    const deadLetters = await sink();
    const { dispatcher, metrics } = harness();
    const event = sampleEvent({ knativeerrorcode: "418", knativeerrordata: "b2xk" });

    const outcome = await dispatcher.deliver(
      event,
      url,
      delivery({ retry: 2, deadLetterSink: deadLetters.url }),
      labels,
    );

    expect(outcome).toMatchObject({ kind: "dead-lettered", attempts: 3, status: undefined });
    expect(await counterValue(metrics.deliveryAttempts, { ...series, code: "error" })).toBe(3);
    const letter = decodedAt(deadLetters.requests[0]!);
    expect(letter.attributes["knativeerrordest"]).toBe(url);
    expect(letter.attributes).not.toHaveProperty("knativeerrorcode");
    expect(letter.attributes).not.toHaveProperty("knativeerrordata");
  });

  it("connection refused with no dead-letter sink → retried, then dropped with no status", async () => {
    const url = `http://127.0.0.1:${await freePort()}/gone`;
    const { dispatcher, metrics } = harness();

    const outcome = await dispatcher.deliver(sampleEvent(), url, delivery({ retry: 2 }), labels);

    expect(outcome).toMatchObject({
      kind: "dropped",
      attempts: 3,
      reason: "delivery-failed",
      status: undefined,
    });
    expect(await counterValue(metrics.deliveryAttempts, { ...series, code: "error" })).toBe(3);
  });

  it("with no dead-letter sink the event is dropped, counted, and logged with id/source/type", async () => {
    const subscriber = await sink(() => ({ status: 500 }));
    const { dispatcher, metrics, logs } = harness();

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 1 }),
      labels,
    );

    expect(outcome).toMatchObject({
      kind: "dropped",
      attempts: 2,
      reason: "delivery-failed",
      status: 500,
    });
    expect(
      await counterValue(metrics.droppedEvents, { namespace: "ns1", reason: "delivery-failed" }),
    ).toBe(1);
    const line = logs.find((l) => l["msg"] === "delivery failed: event dropped");
    expect(line).toMatchObject({
      level: 50,
      id: "evt-1",
      source: "/test/source",
      type: "com.example.test",
      url: subscriber.url,
      status: 500,
      attempts: 2,
      namespace: "ns1",
      trigger: "t1",
      reason: "delivery-failed",
    });
  });

  it("a failing dead-letter sink gets 3 retries of its own, then the event is dropped and counted", async () => {
    const subscriber = await sink(() => ({ status: 500 }));
    const deadLetters = await sink(() => ({ status: 503 }));
    const { dispatcher, metrics } = harness();

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 1, deadLetterSink: deadLetters.url }),
      labels,
    );

    expect(outcome).toMatchObject({
      kind: "dropped",
      attempts: 2,
      reason: "dead-letter-failed",
      status: 500,
    });
    expect(deadLetters.requests).toHaveLength(4);
    expect(await counterValue(metrics.deadLetters, series)).toBe(0);
    expect(
      await counterValue(metrics.droppedEvents, { namespace: "ns1", reason: "dead-letter-failed" }),
    ).toBe(1);
    // Dead-letter attempts are not attempts at the subscriber.
    expect(await counterValue(metrics.deliveryAttempts, { ...series, code: 503 })).toBe(0);
  });

  it("an unusable subscriber URL is not retried and goes to the dead-letter sink", async () => {
    const deadLetters = await sink();
    const { dispatcher } = harness();

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      "ftp://example.com/x",
      delivery({ retry: 3, deadLetterSink: deadLetters.url }),
      labels,
    );

    expect(outcome).toMatchObject({ kind: "dead-lettered", attempts: 1, status: undefined });
    expect(decodedAt(deadLetters.requests[0]!).attributes["knativeerrordest"]).toBe(
      "ftp://example.com/x",
    );
  });
});
