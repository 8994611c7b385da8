import { readFileSync } from "node:fs";
import path from "node:path";
import { pino } from "pino";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { type CloudEvent, createEvent } from "../../src/events/event.js";
import { decodeHttpResponse, encodeHttpRequest } from "../../src/events/http-binding.js";
import {
  brokerYaml,
  eventually,
  type RecordingSink,
  type Responder,
  startSink,
  startWithManifests,
  triggerYaml,
} from "../support/sink.js";

const DOCS = path.resolve(import.meta.dirname, "../fixtures/knative-docs/event-transform");

type Running = Awaited<ReturnType<typeof startWithManifests>>;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sink(responder?: Responder): Promise<RecordingSink> {
  const started = await startSink(responder);
  cleanups.push(() => started.close());
  return started;
}

async function eventail(yaml: string, logLines?: Array<Record<string, unknown>>): Promise<Running> {
  const logger = logLines
    ? pino({ level: "info" }, { write: (line: string) => logLines.push(JSON.parse(line)) })
    : undefined;
  const running = await startWithManifests(yaml, logger ? { logger } : {});
  cleanups.push(() => running.close());
  return running;
}

function event(id: string, type: string, data: unknown, extra: Record<string, string> = {}) {
  return createEvent(
    {
      specversion: "1.0",
      id,
      source: "/shop",
      type,
      datacontenttype: "application/json",
      ...extra,
    },
    Buffer.from(JSON.stringify(data)),
  );
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  event?: CloudEvent;
}

async function post(
  url: string,
  sent: CloudEvent,
  mode: "binary" | "structured" = "binary",
): Promise<Answer> {
  const encoded = encodeHttpRequest(sent, mode);
  const response = await request(url, {
    method: "POST",
    headers: encoded.headers,
    body: encoded.body ?? null,
  });
  const body = Buffer.from(await response.body.arrayBuffer());
  const headers = response.headers as Answer["headers"];
  const reply = decodeHttpResponse(response.statusCode, headers, body).event;
  return { status: response.statusCode, headers, body, ...(reply ? { event: reply } : {}) };
}

function dataOf(received: CloudEvent): Record<string, unknown> {
  return JSON.parse(received.data!.toString("utf8"));
}

const transformYaml = (name: string, spec: string) => `---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventTransform
metadata:
  name: ${name}
  namespace: default
spec:
${spec}`;

const RENAME = `  jsonata:
    expression: |
      { "specversion": "1.0", "id": id & "-t", "source": "transform", "type": "renamed",
        "data": { "was": type, "n": data.n } }
`;

describe("EventTransform behind a Trigger (Knative's Using Broker Reply Feature example)", () => {
  it("the transformed event is the trigger's reply and re-enters the broker", async () => {
    const subscriber = await sink();
    const yaml =
      brokerYaml() +
      "---\n" +
      // As documented: no namespace, so `default`.
      readFileSync(path.join(DOCS, "broker-reply.yaml"), "utf8") +
      triggerYaml(
        "transformed",
        subscriber.url,
        "  filter:\n    attributes:\n      type: transformed.event.type",
      );
    const running = await eventail(yaml);
    const sent = event("order-1", "original.event.type", { order: 42 });
    expect((await post(`${running.url}/default/default`, sent)).status).toBe(202);
    const [received] = await subscriber.waitFor(1);
    const transformed = received!.event!;
    expect(transformed.attributes).toMatchObject({
      id: "order-1",
      type: "transformed.event.type",
      source: "transform.event-transformer",
    });
    // "data": $ — the whole event the transform was given, as the trigger delivered it.
    const data = dataOf(transformed);
    expect(data).toMatchObject({ id: "order-1", type: "original.event.type", data: { order: 42 } });
    expect(data["knativebrokerttl"]).toBeUndefined();
    expect(subscriber.requests).toHaveLength(1);
  });
});

describe("POST /transforms/{namespace}/{name}", () => {
  it.each([["binary" as const], ["structured" as const]])(
    "takes a %s event and answers 200 with the transformed event in binary mode",
    async (mode) => {
      const running = await eventail(brokerYaml() + transformYaml("rename", RENAME));
      const answer = await post(
        `${running.url}/transforms/default/rename`,
        event("e1", "order.created", { n: 3 }),
        mode,
      );
      expect(answer.status).toBe(200);
      expect(answer.headers["ce-id"]).toBe("e1-t");
      expect(answer.headers["content-type"]).toBe("application/json");
      expect(answer.event?.attributes).toMatchObject({ type: "renamed", source: "transform" });
      expect(dataOf(answer.event!)).toEqual({ was: "order.created", n: 3 });
    },
  );

  it("answers 400 TRANSFORM_FAILED when the expression fails, and logs it with the event id", async () => {
    const logs: Array<Record<string, unknown>> = [];
    const running = await eventail(
      brokerYaml() +
        transformYaml(
          "strict",
          "  jsonata:\n    expression: 'data.n > 0 ? $ : $error(\"n must be positive\")'\n",
        ),
      logs,
    );
    const answer = await post(
      `${running.url}/transforms/default/strict`,
      event("bad-7", "t", { n: -1 }),
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body.toString())).toEqual({
      code: "TRANSFORM_FAILED",
      error: expect.stringContaining("n must be positive"),
    });
    expect(logs).toContainEqual(
      expect.objectContaining({
        id: "bad-7",
        eventTransform: "default/strict",
        code: "TRANSFORM_FAILED",
      }),
    );
  });

  it("answers 400 TRANSFORM_FAILED when the result is not a CloudEvent", async () => {
    const running = await eventail(
      brokerYaml() + transformYaml("half", "  jsonata:\n    expression: '{\"id\": id}'\n"),
    );
    const answer = await post(`${running.url}/transforms/default/half`, event("h", "t", {}));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body.toString())).toMatchObject({
      code: "TRANSFORM_FAILED",
      error: expect.stringContaining(
        "did not produce a valid CloudEvent: missing required attribute",
      ),
    });
  });

  it.each([
    ["an unknown transform", "POST", "/transforms/default/none", 404, "NOT_FOUND"],
    ["GET", "GET", "/transforms/default/rename", 405, "METHOD_NOT_ALLOWED"],
  ])("%s: %s %s answers %i %s", async (_what, method, route, status, code) => {
    const running = await eventail(brokerYaml() + transformYaml("rename", RENAME));
    const response = await request(`${running.url}${route}`, {
      method: method as "GET" | "POST",
      headers: { "ce-specversion": "1.0", "ce-id": "x", "ce-source": "s", "ce-type": "t" },
      ...(method === "POST" ? { body: "" } : {}),
    });
    expect(response.statusCode).toBe(status);
    expect(((await response.body.json()) as { code: string }).code).toBe(code);
  });

  it("answers 413 PAYLOAD_TOO_LARGE to a body over 1 MiB", async () => {
    const running = await eventail(brokerYaml() + transformYaml("rename", RENAME));
    const big = event("big", "t", { pad: "x".repeat(1024 * 1024) });
    const answer = await post(`${running.url}/transforms/default/rename`, big);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body.toString())).toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
  });

  it("answers the CloudEvents webhook handshake and refuses a batch", async () => {
    const running = await eventail(brokerYaml() + transformYaml("rename", RENAME));
    const url = `${running.url}/transforms/default/rename`;
    const options = await request(url, { method: "OPTIONS" });
    await options.body.dump();
    expect(options.statusCode).toBe(200);
    expect(options.headers["webhook-allowed-origin"]).toBe("*");
    const batch = await request(url, {
      method: "POST",
      headers: { "content-type": "application/cloudevents-batch+json" },
      body: JSON.stringify([
        { specversion: "1.0", id: "1", source: "s", type: "t" },
        { specversion: "1.0", id: "2", source: "s", type: "t" },
      ]),
    });
    expect(batch.statusCode).toBe(400);
    expect(await batch.body.json()).toMatchObject({ code: "INVALID_EVENT" });
  });
});

describe("EventTransform with a sink", () => {
  it("delivers the transformed event to a Broker sink (Knative's User Registration example)", async () => {
    const subscriber = await sink();
    const yaml =
      brokerYaml() +
      "---\n" +
      readFileSync(path.join(DOCS, "user-registration-transformer.yaml"), "utf8") +
      triggerYaml(
        "processed",
        subscriber.url,
        "  filter:\n    attributes:\n      type: user.registered.processed",
      );
    const running = await eventail(yaml);
    const answer = await post(
      `${running.url}/transforms/default/user-registration-transformer`,
      event("reg-1", "user.registered", {
        user: { id: "u-1", email: "Ada@Example.org", name: "Ada" },
        region: "eu-west",
      }),
    );
    // The broker answered 202 with no event: nothing to pass back.
    expect(answer.status).toBe(202);
    expect(answer.body.length).toBe(0);
    const [received] = await subscriber.waitFor(1);
    expect(received!.event!.attributes).toMatchObject({
      id: "reg-1",
      type: "user.registered.processed",
      userid: "u-1",
      region: "eu-west",
      tier: "free",
    });
    expect(dataOf(received!.event!)).toMatchObject({
      userId: "u-1",
      email: "ada@example.org",
      displayName: "Ada",
      subscription: { tier: "free" },
    });
  });

  /** A sink that answers each event with a reply event derived from it. */
  const replying: Responder = (received) => {
    const ask = received.event!;
    const reply = encodeHttpRequest(
      event(`${ask.attributes["id"]}-r`, "processed", { for: ask.attributes["type"] }),
      "binary",
    );
    return { status: 200, headers: reply.headers, body: reply.body! };
  };

  it.each([
    {
      how: "without spec.reply the sink's reply comes back as it came",
      reply: "",
      status: 200,
      expected: { id: "e-t-r", type: "processed" },
    },
    {
      how: "spec.reply.jsonata transforms the sink's reply",
      reply:
        '  reply:\n    jsonata:\n      expression: \'$merge([$, {"type": "reply.transformed", "seen": data.for}])\'\n',
      status: 200,
      expected: { id: "e-t-r", type: "reply.transformed", seen: "renamed" },
    },
    {
      how: "spec.reply.discard drops the sink's reply: 202, no body",
      reply: "  reply:\n    discard: true\n",
      status: 202,
      expected: undefined,
    },
  ])("$how", async ({ reply, status, expected }) => {
    const target = await sink(replying);
    const running = await eventail(
      brokerYaml() +
        transformYaml("with-sink", `${RENAME}  sink:\n    uri: ${target.url}\n${reply}`),
    );
    const answer = await post(
      `${running.url}/transforms/default/with-sink`,
      event("e", "t", { n: 1 }),
    );
    expect(answer.status).toBe(status);
    expect(target.events.map((e) => e.attributes["id"])).toEqual(["e-t"]);
    if (expected === undefined) expect(answer.body.length).toBe(0);
    else expect(answer.event?.attributes).toMatchObject(expected);
  });

  it.each([
    { how: "a 500", answer: { status: 500 }, retryAfter: undefined },
    {
      how: "a 503 with Retry-After, passed on",
      answer: { status: 503, headers: { "retry-after": "7" } },
      retryAfter: "7",
    },
  ])(
    "the sink answering $how is a 502 SINK_FAILED, after one attempt",
    async ({ answer, retryAfter }) => {
      const target = await sink(() => answer);
      const running = await eventail(
        brokerYaml() + transformYaml("failing", `${RENAME}  sink:\n    uri: ${target.url}\n`),
      );
      const response = await post(`${running.url}/transforms/default/failing`, event("f", "t", {}));
      expect(response.status).toBe(502);
      expect(JSON.parse(response.body.toString())).toMatchObject({ code: "SINK_FAILED" });
      expect(response.headers["retry-after"]).toBe(retryAfter);
      expect(target.requests).toHaveLength(1);
    },
  );

  it("a new expression applies once the manifest changes (hot reload)", async () => {
    const running = await eventail(brokerYaml() + transformYaml("rename", RENAME));
    const url = `${running.url}/transforms/default/rename`;
    expect((await post(url, event("a", "t", { n: 1 }))).event?.attributes["type"]).toBe("renamed");
    const issues = await running.apply(
      running.store.all().map((resource) =>
        resource.kind !== "EventTransform"
          ? resource
          : {
              ...resource,
              spec: { jsonata: { expression: '$merge([$, {"type": "second"}])' } },
            },
      ),
    );
    expect(issues).toEqual([]);
    await eventually(
      async () =>
        (await post(url, event("b", "t", { n: 1 }))).event?.attributes["type"] === "second",
    );
  });
});

describe("EventTransform whose sink is Eventail's own Broker", () => {
  it("delivers all of 200 concurrent events: the transform's sink deliveries do not wait behind the attempts waiting for them", async () => {
    const recorder = await sink();
    // Trigger t1 holds up to 200 attempts to the transform at once, more than the 128 Eventail
    // keeps per origin; each waits for the transform's delivery to b2, at the same origin.
    const yaml =
      brokerYaml("b1") +
      "---\n" +
      brokerYaml("b2") +
      transformYaml(
        "forward",
        `  jsonata:
    expression: '$merge([$, {"type": "forwarded"}])'
  sink:
    ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: b2}
`,
      ) +
      `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: t1
  namespace: default
  annotations: {eventail.io/delivery.concurrency: "200"}
spec:
  broker: b1
  subscriber:
    ref: {apiVersion: eventing.knative.dev/v1alpha1, kind: EventTransform, name: forward}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: t2, namespace: default}
spec:
  broker: b2
  subscriber: {uri: "${recorder.url}"}
`;
    const running = await eventail(yaml);
    const batch = Array.from({ length: 200 }, (_, i) => ({
      specversion: "1.0",
      id: `e${i}`,
      source: "/shop",
      type: "ordered",
      datacontenttype: "application/json",
      data: { n: i },
    }));
    const response = await request(`${running.url}/default/b1`, {
      method: "POST",
      headers: { "content-type": "application/cloudevents-batch+json" },
      body: JSON.stringify(batch),
    });
    await response.body.dump();
    expect(response.statusCode).toBe(202);
    // Far below the 30 s attempt timeout that alone would free stuck attempts.
    await recorder.waitFor(200, 10_000);
    const ids = new Set(recorder.events.map((e) => e.attributes["id"]));
    expect(ids.size).toBe(200);
    expect(recorder.events.every((e) => e.attributes["type"] === "forwarded")).toBe(true);
  });
});
