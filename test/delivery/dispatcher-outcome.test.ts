/**
 * Every outcome of Dispatcher.deliver carries the subscriber's last answer (status, headers, the
 * body the attempt kept), as Knative's DispatchInfo does, over real sockets.
 */
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import type { DeliveryControl } from "../../src/delivery/options.js";
import { delivery, harness, labels, sampleEvent, sink } from "./harness.js";
import type { Responder } from "./sink.js";

/** A port nothing listens on: bound, read, closed. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/subscriber`;
}

interface Case {
  name: string;
  respond: Responder;
  retry?: number;
  control?: DeliveryControl;
  deadLetter?: boolean;
  expected: {
    kind: string;
    status: number;
    attempts: number;
    header: [string, string];
    body: string;
    truncated?: boolean;
  };
}

const cases: Case[] = [
  {
    name: "a 2xx reply: replied, with the reply's ce- headers and body",
    respond: () => ({
      status: 200,
      headers: {
        "ce-specversion": "1.0",
        "ce-id": "r1",
        "ce-source": "/reply",
        "ce-type": "com.example.reply",
        "content-type": "text/plain",
      },
      body: "the reply",
    }),
    expected: {
      kind: "replied",
      status: 200,
      attempts: 1,
      header: ["ce-id", "r1"],
      body: "the reply",
    },
  },
  {
    name: "a 2xx without an event: delivered, headers kept, body drained unread (truncated says so)",
    respond: () => ({ status: 200, headers: { "x-answer": "plain" }, body: "ok, thanks" }),
    expected: {
      kind: "delivered",
      status: 200,
      attempts: 1,
      header: ["x-answer", "plain"],
      body: "",
      truncated: true,
    },
  },
  {
    name: "a 2xx without an event, keepBody asked for: delivered with the body",
    respond: () => ({ status: 201, headers: { "x-answer": "plain" }, body: "ok, thanks" }),
    control: { keepBody: true },
    expected: {
      kind: "delivered",
      status: 201,
      attempts: 1,
      header: ["x-answer", "plain"],
      body: "ok, thanks",
    },
  },
  {
    name: "a 4xx is not retried: dropped with its status, headers and body",
    respond: () => ({ status: 400, headers: { "x-answer": "bad" }, body: "missing field" }),
    retry: 2,
    expected: {
      kind: "dropped",
      status: 400,
      attempts: 1,
      header: ["x-answer", "bad"],
      body: "missing field",
    },
  },
  {
    name: "a 4xx error body is kept to its first 1 KiB",
    respond: () => ({ status: 422, headers: { "x-answer": "long" }, body: "e".repeat(5000) }),
    expected: {
      kind: "dropped",
      status: 422,
      attempts: 1,
      header: ["x-answer", "long"],
      body: "e".repeat(1024),
      truncated: true,
    },
  },
  {
    name: "5xx until retries run out: dropped with the last attempt's answer",
    respond: (_request, n) => ({
      status: n === 3 ? 500 : 503,
      headers: { "x-attempt": String(n) },
      body: `failure ${n}`,
    }),
    retry: 2,
    expected: {
      kind: "dropped",
      status: 500,
      attempts: 3,
      header: ["x-attempt", "3"],
      body: "failure 3",
    },
  },
  {
    name: "5xx until retries run out, then the dead letter: the subscriber's last answer, not the sink's",
    respond: (_request, n) => ({
      status: 502,
      headers: { "x-attempt": String(n) },
      body: `failure ${n}`,
    }),
    retry: 1,
    deadLetter: true,
    expected: {
      kind: "dead-lettered",
      status: 502,
      attempts: 2,
      header: ["x-attempt", "2"],
      body: "failure 2",
    },
  },
];

describe("the outcome carries the last response", () => {
  it.each(cases)("$name", async ({ respond, retry, control, deadLetter, expected }) => {
    const subscriber = await sink(respond);
    const letters = deadLetter
      ? await sink(() => ({ status: 202, headers: { "x-answer": "dead letter" } }))
      : undefined;
    const { dispatcher } = harness();

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: retry ?? 0, ...(letters ? { deadLetterSink: letters.url } : {}) }),
      labels,
      control,
    );

    expect(outcome).toMatchObject({
      kind: expected.kind,
      status: expected.status,
      attempts: expected.attempts,
      truncated: expected.truncated ?? false,
    });
    expect(outcome.headers[expected.header[0]]).toBe(expected.header[1]);
    expect(outcome.body.toString("utf8")).toBe(expected.body);
    if (letters) expect(letters.requests).toHaveLength(1);
  });

  it("a connection error: dropped with no status, no headers, no body, and the error", async () => {
    const { dispatcher } = harness();

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      await closedPortUrl(),
      delivery({ retry: 1 }),
      labels,
    );

    expect(outcome).toMatchObject({ kind: "dropped", attempts: 2, reason: "delivery-failed" });
    expect(outcome.status).toBeUndefined();
    expect(outcome.headers).toEqual({});
    expect(outcome.body).toHaveLength(0);
    expect(outcome.kind === "dropped" && outcome.error).toMatch(/ECONNREFUSED/);
  });
});
