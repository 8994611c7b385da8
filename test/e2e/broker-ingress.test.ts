import { Readable } from "node:stream";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Backing } from "../../src/backing/backing.js";
import { BackingUnavailableError } from "../../src/backing/backing.js";
import { MemoryBacking } from "../../src/backing/memory/memory-backing.js";
import {
  brokerYaml,
  type RecordingSink,
  startSink,
  startWithManifests,
  triggerYaml,
} from "../support/sink.js";

type Running = Awaited<ReturnType<typeof startWithManifests>>;

const binary = (extra: Record<string, string> = {}) => ({
  "ce-specversion": "1.0",
  "ce-id": "abc-1",
  "ce-source": "/test",
  "ce-type": "dev.example.test",
  "content-type": "application/json",
  ...extra,
});

function without(headers: Record<string, string>, name: string): Record<string, string> {
  const copy = { ...headers };
  delete copy[name];
  return copy;
}

/** A backing whose engine is "down": every publish fails the way a durable engine's would. */
class UnavailableBacking extends MemoryBacking {
  override async publish(): Promise<void> {
    throw new BackingUnavailableError("engine unreachable", "test");
  }
}

describe("broker ingress answers every row of the CONTRACT §3 status table", () => {
  let eventail: Running;
  let sink: RecordingSink;

  beforeAll(async () => {
    sink = await startSink();
    const yaml = [
      brokerYaml("default"),
      `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: small
  namespace: default
data:
  backing: memory
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: small
  namespace: default
  annotations:
    eventail.io/ingress.max-body-bytes: "100"
spec:
  config:
    apiVersion: v1
    kind: ConfigMap
    name: small
`,
      triggerYaml("all", sink.url),
    ].join("\n");
    eventail = await startWithManifests(yaml, { maxInFlight: 1_000 });
  });

  afterAll(async () => {
    await eventail.close();
    await sink.close();
  });

  const post = (
    path: string,
    headers: Record<string, string>,
    body: string | Buffer | Readable = "{}",
  ) => request(`${eventail.url}${path}`, { method: "POST", headers, body });

  it.each<[string, Record<string, string>, string, number, string | undefined]>([
    ["binary event accepted", binary(), "{}", 202, undefined],
    [
      "structured event accepted",
      { "content-type": "application/cloudevents+json" },
      JSON.stringify({ specversion: "1.0", id: "s1", source: "/s", type: "t", data: { a: 1 } }),
      202,
      undefined,
    ],
    [
      "batch accepted",
      { "content-type": "application/cloudevents-batch+json" },
      JSON.stringify([
        { specversion: "1.0", id: "b1", source: "/s", type: "t" },
        { specversion: "1.0", id: "b2", source: "/s", type: "t" },
      ]),
      202,
      undefined,
    ],
    ["0.3 binary event accepted", binary({ "ce-specversion": "0.3" }), "{}", 202, undefined],
    ["missing ce-id is 400", without(binary(), "ce-id"), "{}", 400, "INVALID_EVENT"],
    ["missing ce-source is 400", without(binary(), "ce-source"), "{}", 400, "INVALID_EVENT"],
    ["missing ce-type is 400", without(binary(), "ce-type"), "{}", 400, "INVALID_EVENT"],
    [
      "missing ce-specversion is 400",
      without(binary(), "ce-specversion"),
      "{}",
      400,
      "INVALID_EVENT",
    ],
    ["unknown specversion is 400", binary({ "ce-specversion": "9.9" }), "{}", 400, "INVALID_EVENT"],
    ["bad attribute name is 400", binary({ "ce-Bad_Name": "x" }), "{}", 400, "INVALID_EVENT"],
    [
      "bad structured JSON is 400",
      { "content-type": "application/cloudevents+json" },
      "{not json",
      400,
      "INVALID_EVENT",
    ],
    [
      "structured event missing id is 400",
      { "content-type": "application/cloudevents+json" },
      JSON.stringify({ specversion: "1.0", source: "/s", type: "t" }),
      400,
      "INVALID_EVENT",
    ],
    [
      "batch with one bad event is 400 (rejected whole)",
      { "content-type": "application/cloudevents-batch+json" },
      JSON.stringify([
        { specversion: "1.0", id: "ok", source: "/s", type: "t" },
        { specversion: "1.0", source: "/s", type: "t" },
      ]),
      400,
      "INVALID_EVENT",
    ],
    [
      "knativebrokerttl already 0 is 400",
      binary({ "ce-knativebrokerttl": "0" }),
      "{}",
      400,
      "TTL_EXHAUSTED",
    ],
    [
      "unknown structured format is 415",
      { "content-type": "application/cloudevents+avro" },
      "x",
      415,
      "UNSUPPORTED_FORMAT",
    ],
  ])("%s (both ingress doors answer alike)", async (_name, headers, body, status, code) => {
    // A declared length is served by the direct door (src/server/direct-ingress.ts), a chunked
    // body by fastify's route: a client must not be able to tell them apart.
    const answers = [];
    for (const chunked of [false, true]) {
      const response = await post(
        "/default/default",
        headers,
        chunked ? Readable.from([Buffer.from(body)]) : body,
      );
      const { date: _date, ...rest } = response.headers;
      answers.push({
        status: response.statusCode,
        headers: rest,
        text: await response.body.text(),
      });
    }
    const [direct, routed] = answers;
    expect(direct!.status).toBe(status);
    if (code) {
      const parsed = JSON.parse(direct!.text) as { error: string; code: string };
      expect(parsed.code).toBe(code);
      expect(parsed.error.length).toBeGreaterThan(5);
    }
    expect(direct).toEqual(routed);
  });

  it("a batch is not delivered in part when rejected", async () => {
    const before = sink.requests.filter((r) => r.event?.attributes["id"] === "never").length;
    await post(
      "/default/default",
      { "content-type": "application/cloudevents-batch+json" },
      JSON.stringify([{ specversion: "1.0", id: "never", source: "/s", type: "t" }, { bad: true }]),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sink.requests.filter((r) => r.event?.attributes["id"] === "never").length).toBe(before);
  });

  it("unknown broker is 404", async () => {
    const response = await post("/default/nope", binary());
    expect(response.statusCode).toBe(404);
    expect(((await response.body.json()) as { code: string }).code).toBe("NOT_FOUND");
  });

  it("a body over the broker's limit is 413", async () => {
    const response = await post("/default/small", binary(), JSON.stringify({ x: "y".repeat(200) }));
    expect(response.statusCode).toBe(413);
    expect(((await response.body.json()) as { code: string }).code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("a chunked body over the limit is 413 too", async () => {
    const chunks = async function* () {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(50, "a");
    };
    const response = await request(`${eventail.url}/default/small`, {
      method: "POST",
      headers: binary({ "content-type": "text/plain" }),
      body: Readable.from(chunks()),
    });
    expect(response.statusCode).toBe(413);
    await response.body.dump();
  });

  it("the default limit is 1 MiB", async () => {
    const under = await post(
      "/default/default",
      binary({ "content-type": "text/plain" }),
      Buffer.alloc(1024 * 1024 - 10, "a"),
    );
    expect(under.statusCode).toBe(202);
    const over = await post(
      "/default/default",
      binary({ "content-type": "text/plain" }),
      Buffer.alloc(1024 * 1024 + 10, "a"),
    );
    expect(over.statusCode).toBe(413);
    await over.body.dump();
  });

  it("OPTIONS answers the CloudEvents webhook handshake", async () => {
    const response = await request(`${eventail.url}/default/default`, {
      method: "OPTIONS",
      headers: { "webhook-request-origin": "example.com" },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers["allow"]).toBe("POST, OPTIONS");
    expect(response.headers["webhook-allowed-origin"]).toBe("*");
  });

  it.each(["GET", "PUT", "DELETE", "PATCH"])("%s is 405", async (method) => {
    const response = await request(`${eventail.url}/default/default`, { method: method as "GET" });
    expect(response.statusCode).toBe(405);
    expect(response.headers["allow"]).toBe("POST, OPTIONS");
    expect(((await response.body.json()) as { code: string }).code).toBe("METHOD_NOT_ALLOWED");
  });

  it("counts ingress by status in /metrics", async () => {
    const text = await (await request(`${eventail.url}/metrics`)).body.text();
    expect(text).toMatch(
      /eventail_ingress_events_total\{namespace="default",broker="default",code="202"\} \d+/,
    );
    expect(text).toMatch(
      /eventail_ingress_events_total\{namespace="default",broker="default",code="400"\} \d+/,
    );
  });

  it("healthz and readyz answer 200", async () => {
    expect((await request(`${eventail.url}/healthz`)).statusCode).toBe(200);
    const ready = await request(`${eventail.url}/readyz`);
    expect(ready.statusCode).toBe(200);
  });
});

describe("broker ingress under pressure and failure", () => {
  it("answers 429 with Retry-After when the in-flight bound is reached", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    class SlowBacking extends MemoryBacking {
      override async publish(stream: string, events: Parameters<Backing["publish"]>[1]) {
        await gate;
        return super.publish(stream, events);
      }
    }
    const eventail = await startWithManifests(brokerYaml(), {
      maxInFlight: 2,
      createBacking: async () => new SlowBacking(),
    });
    try {
      const first = request(`${eventail.url}/default/default`, {
        method: "POST",
        headers: binary({ "ce-id": "1" }),
        body: "{}",
      });
      const second = request(`${eventail.url}/default/default`, {
        method: "POST",
        headers: binary({ "ce-id": "2" }),
        body: "{}",
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const third = await request(`${eventail.url}/default/default`, {
        method: "POST",
        headers: binary({ "ce-id": "3" }),
        body: "{}",
      });
      expect(third.statusCode).toBe(429);
      expect(third.headers["retry-after"]).toBe("1");
      expect(((await third.body.json()) as { code: string }).code).toBe("OVER_CAPACITY");
      release();
      expect((await first).statusCode).toBe(202);
      expect((await second).statusCode).toBe(202);
    } finally {
      release();
      await eventail.close();
    }
  });

  it("answers 503 when the backing is unavailable, and /readyz stays truthful", async () => {
    const eventail = await startWithManifests(brokerYaml(), {
      createBacking: async () => new UnavailableBacking(),
    });
    try {
      const response = await request(`${eventail.url}/default/default`, {
        method: "POST",
        headers: binary(),
        body: "{}",
      });
      expect(response.statusCode).toBe(503);
      expect(((await response.body.json()) as { code: string }).code).toBe("BACKING_UNAVAILABLE");
    } finally {
      await eventail.close();
    }
  });
});
