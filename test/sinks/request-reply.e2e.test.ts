import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { createEvent, withAttributes } from "../../src/events/event.js";
import { decodeHttpRequest, encodeHttpRequest } from "../../src/events/http-binding.js";
import type { RequestReplyRuntime } from "../../src/sinks/request-reply.js";
import {
  mintCorrelationId,
  parseCorrelationId,
} from "../../src/sinks/request-reply-correlation.js";
import {
  brokerYaml,
  eventually,
  type RecordingSink,
  type Responder,
  startSink,
  startWithManifests,
  triggerYaml,
} from "../support/sink.js";
import {
  ask,
  dataOf,
  replyTo,
  requestEvent,
  requestReplyYaml,
  responder,
} from "./request-reply-support.js";

type Running = Awaited<ReturnType<typeof startWithManifests>>;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sink(answer: Responder): Promise<RecordingSink> {
  const started = await startSink(answer);
  cleanups.push(() => started.close());
  return started;
}

async function eventail(yaml: string, logs?: Array<Record<string, unknown>>): Promise<Running> {
  const logger = logs
    ? pino({ level: "debug" }, { write: (line: string) => logs.push(JSON.parse(line)) })
    : undefined;
  const running = await startWithManifests(yaml, logger ? { logger } : {});
  cleanups.push(() => running.close());
  return running;
}

const REQUESTS_ONLY = "  filter:\n    attributes:\n      type: request";

describe("RequestReply through a memory broker", () => {
  it("holds 1,000 requests at once and answers each with the reply to its own request", async () => {
    // The responder takes each request (202) and keeps it; the replies go into the broker only
    // once all 1,000 requests wait, in an order unrelated to the requests'.
    const target = await sink(() => ({ status: 202 }));
    const running = await eventail(
      brokerYaml() +
        triggerYaml("responder", target.url, REQUESTS_ONLY) +
        requestReplyYaml("rr", "  timeout: PT300S\n"),
    );
    const url = `${running.url}/requestreply/default/rr`;
    const runtime = running.reconciler.requestReply("default", "rr") as RequestReplyRuntime;
    const count = 1_000;
    const numbers = Array.from({ length: count }, (_, i) => (i * 7919) % 100_003);
    const answers: Array<Promise<Awaited<ReturnType<typeof ask>>>> = [];
    // Connections open a hundred at a time: a burst of a thousand connects overflows the listen
    // backlog of a loaded machine, which resets some of them before Eventail sees a request.
    for (let i = 0; i < count; i++) {
      answers.push(ask(url, requestEvent(`req-${i}`, numbers[i]!)));
      if ((i + 1) % 100 === 0) {
        await eventually(() => runtime.waiting === i + 1, 60_000, `${i + 1} requests to wait`);
      }
    }
    await eventually(() => target.events.length === count, 60_000, "every request to arrive");
    expect(runtime.waiting).toBe(count);

    const asked = [...target.events].reverse();
    for (let from = 0; from < count; from += 50) {
      await Promise.all(
        asked.slice(from, from + 50).map(async (question) => {
          const encoded = encodeHttpRequest(replyTo(question), "binary");
          const stored = await request(`${running.url}/default/default`, {
            method: "POST",
            headers: encoded.headers,
            body: encoded.body ?? "",
          });
          await stored.body.dump();
          expect(stored.statusCode).toBe(202);
        }),
      );
    }
    for (const [i, answer] of (await Promise.all(answers)).entries()) {
      expect(answer.status).toBe(200);
      expect(answer.event?.attributes["type"]).toBe("response");
      expect(dataOf(answer.event!)).toEqual({ request: `req-${i}`, doubled: numbers[i]! * 2 });
      // The broker's hop counter stays inside Eventail.
      expect(answer.event?.attributes["knativebrokerttl"]).toBeUndefined();
    }
    expect(runtime.waiting).toBe(0);
  }, 300_000);

  it("answers 504 REPLY_TIMEOUT when no reply comes", async () => {
    const running = await eventail(brokerYaml() + requestReplyYaml("rr", "  timeout: PT0.2S\n"));
    const answer = await ask(`${running.url}/requestreply/default/rr`, requestEvent("lonely", 1));
    expect(answer.status).toBe(504);
    expect(JSON.parse(answer.body.toString())).toEqual({
      code: "REPLY_TIMEOUT",
      error: expect.stringContaining("no reply within 200 ms"),
    });
  });

  it("publishes the request into the broker with the correlation id it expects back", async () => {
    const target = await sink(responder);
    const running = await eventail(
      brokerYaml() +
        triggerYaml("responder", target.url, REQUESTS_ONLY) +
        requestReplyYaml("rr", "  correlationAttribute: askid\n  replyAttribute: answerid\n"),
    );
    const renamed: Responder = (received) => {
      const asked = received.event!;
      const reply = withAttributes(replyTo(asked), {
        replyid: undefined,
        answerid: String(asked.attributes["askid"]),
      });
      const encoded = encodeHttpRequest(reply, "binary");
      return { status: 200, headers: encoded.headers, body: encoded.body! };
    };
    target.respondWith(renamed);
    const answer = await ask(`${running.url}/requestreply/default/rr`, requestEvent("e:1", 5));
    expect(answer.status).toBe(200);
    expect(dataOf(answer.event!)).toEqual({ request: "e:1", doubled: 10 });
    const published = target.events[0]!;
    expect(published.attributes["id"]).toBe("e:1");
    expect(published.attributes["correlationid"]).toBeUndefined();
    // The request's id comes first, as in Knative's `<id>:<proof>:<index>`; ids may hold `:`.
    const parsed = parseCorrelationId(String(published.attributes["askid"]));
    expect(parsed?.correlation.eventId).toBe("e:1");
  });

  it("stops waiting when the client goes away", async () => {
    const running = await eventail(brokerYaml() + requestReplyYaml("rr", "  timeout: PT60S\n"));
    const runtime = running.reconciler.requestReply("default", "rr") as RequestReplyRuntime;
    const gone = new AbortController();
    const pending = ask(
      `${running.url}/requestreply/default/rr`,
      requestEvent("x", 1),
      gone.signal,
    );
    await eventually(() => runtime.waiting === 1, 10_000, "the request to wait");
    gone.abort();
    await expect(pending).rejects.toThrow();
    await eventually(() => runtime.waiting === 0, 10_000, "the wait to end");
  });

  it("a request still waiting when its RequestReply is deleted answers 503", async () => {
    const running = await eventail(brokerYaml() + requestReplyYaml("rr", "  timeout: PT60S\n"));
    const runtime = running.reconciler.requestReply("default", "rr") as RequestReplyRuntime;
    const pending = ask(`${running.url}/requestreply/default/rr`, requestEvent("orphan", 1));
    await eventually(() => runtime.waiting === 1, 10_000, "the request to wait");
    const issues = await running.apply(
      running.store.all().filter((resource) => resource.kind !== "RequestReply"),
    );
    expect(issues).toEqual([]);
    const answer = await pending;
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body.toString())).toMatchObject({
      error: expect.stringContaining("the RequestReply was deleted"),
    });
    expect(running.reconciler.requestReply("default", "rr")).toBeUndefined();
  });

  it("a new timeout applies to the next request without a restart", async () => {
    const running = await eventail(brokerYaml() + requestReplyYaml("rr", "  timeout: PT60S\n"));
    const issues = await running.apply(
      running.store
        .all()
        .map((resource) =>
          resource.kind !== "RequestReply"
            ? resource
            : { ...resource, spec: { ...(resource.spec as object), timeout: "PT0.1S" } },
        ),
    );
    expect(issues).toEqual([]);
    const answer = await ask(`${running.url}/requestreply/default/rr`, requestEvent("quick", 1));
    expect(answer.status).toBe(504);
    expect(JSON.parse(answer.body.toString()).error).toContain("no reply within 100 ms");
  });

  it("answers 404 for a RequestReply that does not exist", async () => {
    const running = await eventail(brokerYaml() + requestReplyYaml("rr"));
    const answer = await ask(`${running.url}/requestreply/default/nope`, requestEvent("x", 1));
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body.toString())).toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("RequestReply ignores replies it did not ask for", () => {
  const key = Buffer.from("request-reply-signing-key-for-tests");
  const otherKey = Buffer.from("somebody-else-s-key-of-enough-bytes");
  const secretYaml = `---
apiVersion: v1
kind: Secret
metadata:
  name: rr-keys
  namespace: default
stringData:
  key: ${key.toString()}
`;

  /**
   * The id format, rebuilt here as an independent oracle: `{id}:{instance}:{nonce}:{mac}`, the
   * MAC an HMAC-SHA256 (first 16 bytes) over the RequestReply, instance, nonce and id.
   */
  function rebuild(genuine: string, change: { scope?: string; key?: Buffer; eventId?: string }) {
    const { correlation } = parseCorrelationId(genuine)!;
    const eventId = change.eventId ?? correlation.eventId;
    const mac = createHmac("sha256", change.key ?? key)
      .update(
        `eventail.requestreply.v1\n${change.scope ?? "default/rr"}\n${correlation.instance}\n` +
          `${correlation.nonce}\n${eventId}`,
      )
      .digest()
      .subarray(0, 16)
      .toString("base64url");
    return `${eventId}:${correlation.instance}:${correlation.nonce}:${mac}`;
  }

  it.each([
    {
      forgery: "rebuilt with the RequestReply's key (the control: this one is a real reply)",
      forge: (genuine: string) => rebuild(genuine, {}),
      taken: true,
    },
    {
      forgery: "a tampered MAC",
      forge: (genuine: string) => genuine.replace(/.$/, (c) => (c === "A" ? "B" : "A")),
      taken: false,
    },
    {
      forgery: "another request id under the genuine MAC",
      forge: (genuine: string) => `other${genuine.slice(genuine.indexOf(":"))}`,
      taken: false,
    },
    {
      forgery: "signed with a key that is not the RequestReply's",
      forge: (genuine: string) => rebuild(genuine, { key: otherKey }),
      taken: false,
    },
    {
      forgery: "signed with the right key for another RequestReply",
      forge: (genuine: string) => rebuild(genuine, { scope: "default/other" }),
      taken: false,
    },
    { forgery: "not an id at all", forge: () => "not-a-correlation-id", taken: false },
  ])("a reply $forgery: taken = $taken", async ({ forge, taken }) => {
    let brokerUrl = "";
    // Stores the forged reply in the broker first, then answers with the genuine one: a forgery
    // that were taken would answer the request before the genuine reply exists.
    const responderServer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", async () => {
        const asked = decodeHttpRequest(req.headers, Buffer.concat(chunks)).events[0]!;
        const genuine = String(asked.attributes["correlationid"]);
        const forged = withAttributes(replyTo(asked), { id: "forged", replyid: forge(genuine) });
        const encoded = encodeHttpRequest(forged, "binary");
        const stored = await request(brokerUrl, {
          method: "POST",
          headers: encoded.headers,
          body: encoded.body ?? "",
        });
        await stored.body.dump();
        const reply = encodeHttpRequest(replyTo(asked), "binary");
        res.writeHead(stored.statusCode === 202 ? 200 : 500, reply.headers).end(reply.body);
      });
    });
    await new Promise<void>((resolve) => responderServer.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => responderServer.close(() => resolve())));
    const { port } = responderServer.address() as AddressInfo;
    const logs: Array<Record<string, unknown>> = [];
    const running = await eventail(
      brokerYaml() +
        triggerYaml("responder", `http://127.0.0.1:${port}/`, REQUESTS_ONLY) +
        requestReplyYaml("rr", "  timeout: PT30S\n  secrets: [rr-keys]\n") +
        secretYaml,
      logs,
    );
    brokerUrl = `${running.url}/default/default`;
    const answer = await ask(`${running.url}/requestreply/default/rr`, requestEvent("real", 21));
    expect(answer.status).toBe(200);
    expect(answer.event?.attributes["id"]).toBe(taken ? "forged" : "reply-real");
    expect(dataOf(answer.event!)).toEqual({ request: "real", doubled: 42 });
  });

  it("a forged MAC is logged as such", async () => {
    const logs: Array<Record<string, unknown>> = [];
    const running = await eventail(
      brokerYaml() + requestReplyYaml("rr", "  secrets: [rr-keys]\n") + secretYaml,
      logs,
    );
    const runtime = running.reconciler.requestReply("default", "rr") as RequestReplyRuntime;
    const minted = mintCorrelationId("default/rr", "x", runtime.instance, otherKey).id;
    await postReply(`${running.url}/default/default`, "forged-1", minted);
    await eventually(
      () =>
        logs.some(
          (line) => line["id"] === "forged-1" && /does not verify/.test(String(line["msg"])),
        ),
      10_000,
      "the forged reply to be seen and refused",
    );
  });

  it("a well-formed id whose request is no longer waiting is ignored", async () => {
    const logs: Array<Record<string, unknown>> = [];
    const running = await eventail(
      brokerYaml() + requestReplyYaml("rr", "  secrets: [rr-keys]\n") + secretYaml,
      logs,
    );
    const runtime = running.reconciler.requestReply("default", "rr") as RequestReplyRuntime;
    const stale = mintCorrelationId("default/rr", "gone", runtime.instance, key).id;
    await postReply(`${running.url}/default/default`, "late", stale);
    await eventually(
      () =>
        logs.some((line) => line["id"] === "late" && /no request waits/.test(String(line["msg"]))),
      10_000,
      "the late reply to be seen and ignored",
    );
  });
});

async function postReply(brokerUrl: string, id: string, replyid: string): Promise<void> {
  const reply = createEvent({
    specversion: "1.0",
    id,
    source: "/responder",
    type: "response",
    replyid,
  });
  const encoded = encodeHttpRequest(reply, "binary");
  const posted = await request(brokerUrl, { method: "POST", headers: encoded.headers, body: "" });
  await posted.body.dump();
  expect(posted.statusCode).toBe(202);
}

describe("RequestReply whose responder is Eventail's own address", () => {
  it("answers all of 200 concurrent requests: the responder's deliveries do not wait behind the attempts waiting for them", async () => {
    const recorder = await sink(() => ({ status: 202 }));
    // Trigger asker holds up to 200 attempts to the RequestReply at once, more than the 128
    // Eventail keeps per origin; each waits for trigger respond's delivery of its request to an
    // EventTransform at the same origin, which answers with the reply.
    const yaml =
      brokerYaml("front") +
      "---\n" +
      brokerYaml("back") +
      requestReplyYaml("rr", "  timeout: PT60S\n", "back") +
      `---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventTransform
metadata: {name: answer, namespace: default}
spec:
  jsonata:
    expression: |
      { "specversion": "1.0", "id": "reply-" & id, "source": "/responder", "type": "response",
        "replyid": correlationid, "datacontenttype": "application/json", "data": data }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: asker
  namespace: default
  annotations: {eventail.io/delivery.concurrency: "200"}
spec:
  broker: front
${REQUESTS_ONLY}
  subscriber:
    ref: {apiVersion: eventing.knative.dev/v1alpha1, kind: RequestReply, name: rr}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: respond, namespace: default}
spec:
  broker: back
${REQUESTS_ONLY}
  subscriber:
    ref: {apiVersion: eventing.knative.dev/v1alpha1, kind: EventTransform, name: answer}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: replies, namespace: default}
spec:
  broker: front
  filter:
    attributes:
      type: response
  subscriber: {uri: "${recorder.url}"}
`;
    const running = await eventail(yaml);
    const batch = Array.from({ length: 200 }, (_, n) => ({
      specversion: "1.0",
      id: `q${n}`,
      source: "/client",
      type: "request",
      datacontenttype: "application/json",
      data: { n },
    }));
    const response = await request(`${running.url}/default/front`, {
      method: "POST",
      headers: { "content-type": "application/cloudevents-batch+json" },
      body: JSON.stringify(batch),
    });
    await response.body.dump();
    expect(response.statusCode).toBe(202);
    // Far below the 30 s attempt timeout and the 60 s reply timeout that alone would free them.
    await recorder.waitFor(200, 10_000);
    const ids = new Set(recorder.events.map((e) => e.attributes["id"]));
    expect(ids.size).toBe(200);
    expect(recorder.events.every((e) => e.attributes["type"] === "response")).toBe(true);
  });
});
