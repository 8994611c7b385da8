import { describe, expect, it } from "vitest";
import { decodeHttpRequest } from "../../src/events/http-binding.js";
import { freePort } from "../support/services.js";
import { delivery, harness, labels, sampleEvent, series, sink } from "./harness.js";
import { counterValue, type SinkAnswer } from "./sink.js";

describe("Dispatcher on the wire", () => {
  it("binary mode: attributes as percent-encoded ce- headers, datacontenttype as Content-Type, data as body", async () => {
    const subscriber = await sink();
    const { dispatcher, metrics } = harness();
    const event = sampleEvent(
      { subject: "Euro € 😀", comexample: 'say "hi" 100%', datacontenttype: "text/plain" },
      Buffer.from("héllo"),
    );

    const outcome = await dispatcher.deliver(event, subscriber.url, delivery(), labels);

    expect(outcome).toMatchObject({ kind: "delivered", status: 202, attempts: 1 });
    const [received] = subscriber.requests;
    expect(received!.method).toBe("POST");
    expect(received!.path).toBe("/subscriber");
    expect(received!.headers["ce-subject"]).toBe("Euro%20%E2%82%AC%20%F0%9F%98%80");
    expect(received!.headers["ce-comexample"]).toBe("say%20%22hi%22%20100%25");
    expect(received!.headers["content-type"]).toBe("text/plain");
    expect(received!.headers["ce-datacontenttype"]).toBeUndefined();
    expect(received!.body.toString("utf8")).toBe("héllo");
    const decoded = decodeHttpRequest(received!.headers, received!.body);
    expect(decoded.mode).toBe("binary");
    expect(decoded.events[0]!.attributes).toEqual(event.attributes);
    expect(await counterValue(metrics.deliveryAttempts, { ...series, code: 202 })).toBe(1);
    const latency = await metrics.deliveryLatency.get();
    expect(latency.values.find((v) => v.metricName?.endsWith("_count"))?.value).toBe(1);
  });

  it("structured mode when format is json: one JSON object, no ce- headers", async () => {
    const subscriber = await sink();
    const { dispatcher } = harness();
    const event = sampleEvent({ datacontenttype: "application/json" }, Buffer.from('{"a":[1,2]}'));

    await dispatcher.deliver(event, subscriber.url, delivery({ format: "json" }), labels);

    const [received] = subscriber.requests;
    expect(received!.headers["content-type"]).toBe("application/cloudevents+json; charset=utf-8");
    expect(Object.keys(received!.headers).filter((h) => h.startsWith("ce-"))).toEqual([]);
    expect(JSON.parse(received!.body.toString("utf8"))).toEqual({
      ...event.attributes,
      data: { a: [1, 2] },
    });
  });

  it("sends Prefer: reply and the traceparent/tracestate extensions as W3C headers (and as ce- headers)", async () => {
    const subscriber = await sink();
    const { dispatcher } = harness();
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const event = sampleEvent({ traceparent, tracestate: "rojo=00f067aa0ba902b7" });

    await dispatcher.deliver(event, subscriber.url, delivery(), labels);

    const headers = subscriber.requests[0]!.headers;
    expect(headers["prefer"]).toBe("reply");
    expect(headers["traceparent"]).toBe(traceparent);
    expect(headers["tracestate"]).toBe("rojo=00f067aa0ba902b7");
    expect(headers["ce-traceparent"]).toBe(traceparent);
  });

  it.each([{ format: "binary" as const }, { format: "json" as const }])(
    "removes knativebrokerttl before the subscriber sees it ($format), leaving the caller's event as it was",
    async ({ format }) => {
      const subscriber = await sink();
      const { dispatcher } = harness();
      const event = sampleEvent({ knativebrokerttl: 254 });

      await dispatcher.deliver(event, subscriber.url, delivery({ format }), labels);

      const received = subscriber.requests[0]!;
      const seen = decodeHttpRequest(received.headers, received.body).events[0]!;
      expect(seen.attributes["knativebrokerttl"]).toBeUndefined();
      expect(seen.attributes["id"]).toBe("evt-1");
      expect(event.attributes["knativebrokerttl"]).toBe(254);
    },
  );

  it("keeps knativebrokerttl when told to (deliveries into a broker ingress) and adds caller headers", async () => {
    const subscriber = await sink();
    const { dispatcher } = harness();

    await dispatcher.deliver(
      sampleEvent({ knativebrokerttl: 7 }),
      subscriber.url,
      delivery(),
      labels,
      {
        keepBrokerTtl: true,
        headers: { authorization: "Bearer t0ken" },
      },
    );

    expect(subscriber.requests[0]!.headers["ce-knativebrokerttl"]).toBe("7");
    expect(subscriber.requests[0]!.headers["authorization"]).toBe("Bearer t0ken");
  });
});

const replyHeaders = {
  "ce-specversion": "1.0",
  "ce-id": "reply-1",
  "ce-source": "/subscriber",
  "ce-type": "com.example.reply",
};

describe("reply detection (CONTRACT §4)", () => {
  it.each<{ name: string; answer: SinkAnswer; kind: string; data?: string }>([
    {
      name: "binary ce- headers with an empty body are a reply",
      answer: { status: 200, headers: replyHeaders },
      kind: "replied",
    },
    {
      name: "binary ce- headers with a body are a reply carrying that data",
      answer: {
        status: 202,
        headers: { ...replyHeaders, "content-type": "text/plain" },
        body: "pong",
      },
      kind: "replied",
      data: "pong",
    },
    {
      name: "a structured CloudEvent body is a reply",
      answer: {
        status: 200,
        headers: { "content-type": "application/cloudevents+json" },
        body: JSON.stringify({
          specversion: "1.0",
          id: "reply-1",
          source: "/subscriber",
          type: "com.example.reply",
          data: { ok: true },
        }),
      },
      kind: "replied",
      data: '{"ok":true}',
    },
    {
      name: "a 2xx with a plain JSON body is no reply",
      answer: { status: 200, headers: { "content-type": "application/json" }, body: '{"id":"x"}' },
      kind: "delivered",
    },
    {
      name: "a 200 with only some ce- headers is no reply",
      answer: { status: 200, headers: { "ce-specversion": "1.0", "ce-id": "x" } },
      kind: "delivered",
    },
    { name: "a 204 is no reply", answer: { status: 204 }, kind: "delivered" },
    {
      name: "a structured body that is not valid is no reply",
      answer: {
        status: 200,
        headers: { "content-type": "application/cloudevents+json" },
        body: "{",
      },
      kind: "delivered",
    },
  ])("$name", async ({ answer, kind, data }) => {
    const subscriber = await sink(() => answer);
    const { dispatcher } = harness();

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 2 }),
      labels,
    );

    expect(outcome.kind).toBe(kind);
    expect(outcome.attempts).toBe(1);
    expect(subscriber.requests).toHaveLength(1);
    if (outcome.kind === "replied") {
      expect(outcome.status).toBe(answer.status);
      expect(outcome.reply.attributes).toMatchObject({ id: "reply-1", type: "com.example.reply" });
      expect(outcome.reply.data?.toString("utf8")).toBe(data);
    }
  });

  it("a reply's percent-encoded ce- headers are decoded", async () => {
    const subscriber = await sink(() => ({
      status: 200,
      headers: { ...replyHeaders, "ce-subject": "Euro%20%E2%82%AC" },
    }));
    const { dispatcher } = harness();

    const outcome = await dispatcher.deliver(sampleEvent(), subscriber.url, delivery(), labels);

    expect(outcome.kind === "replied" && outcome.reply.attributes["subject"]).toBe("Euro €");
  });

  it("a reply larger than maxReplyBytes is ignored and logged, the delivery still succeeds", async () => {
    const subscriber = await sink(() => ({
      status: 200,
      headers: replyHeaders,
      body: Buffer.alloc(5000, 0x61),
    }));
    const { dispatcher, logs } = harness({ maxReplyBytes: 4096 });

    const outcome = await dispatcher.deliver(sampleEvent(), subscriber.url, delivery(), labels);

    expect(outcome).toMatchObject({ kind: "delivered", status: 200, attempts: 1 });
    expect(logs.find((l) => l["msg"] === "subscriber reply ignored")).toMatchObject({
      id: "evt-1",
      reason: "reply body over 4096 bytes",
    });
  });
});

describe("Dispatcher.send (one attempt)", () => {
  it("returns status, headers, body and the reply, keeping knativebrokerttl", async () => {
    const subscriber = await sink(() => ({
      status: 201,
      headers: { ...replyHeaders, "x-extra": "1" },
      body: "ok",
    }));
    const { dispatcher } = harness();

    const result = await dispatcher.send(sampleEvent({ knativebrokerttl: 9 }), subscriber.url, {
      format: "json",
    });

    expect(result.status).toBe(201);
    expect(result.headers["x-extra"]).toBe("1");
    expect(result.body.toString()).toBe("ok");
    expect(result.reply?.attributes["id"]).toBe("reply-1");
    expect(JSON.parse(subscriber.requests[0]!.body.toString())["knativebrokerttl"]).toBe(9);
  });

  it("does not retry a 500 and hands back its body", async () => {
    const subscriber = await sink(() => ({ status: 500, body: "boom" }));
    const { dispatcher } = harness();

    const result = await dispatcher.send(sampleEvent(), subscriber.url);

    expect(result.status).toBe(500);
    expect(result.body.toString()).toBe("boom");
    expect(result.reply).toBeUndefined();
    expect(subscriber.requests).toHaveLength(1);
  });

  it("rejects, naming the URL, when nothing answers", async () => {
    const url = `http://127.0.0.1:${await freePort()}/`;
    const { dispatcher } = harness();

    await expect(dispatcher.send(sampleEvent(), url)).rejects.toThrow(`POST ${url} failed (error)`);
  });
});
