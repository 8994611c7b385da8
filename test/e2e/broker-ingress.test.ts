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

  /** One row of the status table: what is sent, and the whole answer expected. */
  interface Row {
    readonly path?: string;
    readonly method?: "POST" | "GET" | "PUT" | "DELETE" | "PATCH" | "OPTIONS";
    readonly headers: Record<string, string>;
    readonly body: string;
    readonly status: number;
    /** The error body's code and sentence (a pattern where the framing changes it). */
    readonly error?: { readonly code: string; readonly error: string | RegExp };
    /** Headers besides content-type and content-length. */
    readonly extra?: Record<string, string>;
  }

  const structured = { "content-type": "application/cloudevents+json" };
  const batch = { "content-type": "application/cloudevents-batch+json" };
  const rows: [string, Row][] = [
    ["binary event accepted", { headers: binary(), body: "{}", status: 202 }],
    [
      "structured event accepted",
      {
        headers: structured,
        body: JSON.stringify({
          specversion: "1.0",
          id: "s1",
          source: "/s",
          type: "t",
          data: { a: 1 },
        }),
        status: 202,
      },
    ],
    [
      "batch accepted",
      {
        headers: batch,
        body: JSON.stringify([
          { specversion: "1.0", id: "b1", source: "/s", type: "t" },
          { specversion: "1.0", id: "b2", source: "/s", type: "t" },
        ]),
        status: 202,
      },
    ],
    [
      "0.3 binary event accepted",
      { headers: binary({ "ce-specversion": "0.3" }), body: "{}", status: 202 },
    ],
    [
      "OPTIONS answers the webhook handshake",
      {
        method: "OPTIONS",
        headers: { "webhook-request-origin": "example.com" },
        body: "",
        status: 200,
        extra: {
          allow: "POST, OPTIONS",
          "webhook-allowed-origin": "*",
          "webhook-allowed-rate": "*",
        },
      },
    ],
    ...(["GET", "PUT", "DELETE", "PATCH"] as const).map((method): [string, Row] => [
      `${method} is 405 with Allow`,
      {
        method,
        headers: {},
        body: "",
        status: 405,
        error: { code: "METHOD_NOT_ALLOWED", error: `method ${method} is not allowed; use POST` },
        extra: { allow: "POST, OPTIONS" },
      },
    ]),
    ...(["id", "source", "type"] as const).map((name): [string, Row] => [
      `missing ce-${name} is 400`,
      {
        headers: without(binary(), `ce-${name}`),
        body: "{}",
        status: 400,
        error: { code: "INVALID_EVENT", error: `missing required header ce-${name}` },
      },
    ]),
    [
      "missing ce-specversion is 400",
      {
        headers: without(binary(), "ce-specversion"),
        body: "{}",
        status: 400,
        error: { code: "INVALID_EVENT", error: "not a CloudEvent: missing ce-specversion header" },
      },
    ],
    [
      "unknown specversion is 400",
      {
        headers: binary({ "ce-specversion": "9.9" }),
        body: "{}",
        status: 400,
        error: {
          code: "INVALID_EVENT",
          error: 'unsupported specversion "9.9" (expected 1.0 or 0.3)',
        },
      },
    ],
    [
      "bad attribute name is 400",
      {
        headers: binary({ "ce-Bad_Name": "x" }),
        body: "{}",
        status: 400,
        error: {
          code: "INVALID_EVENT",
          error: "invalid header ce-bad_name: attribute names are lower-case letters and digits",
        },
      },
    ],
    [
      "bad structured JSON is 400",
      {
        headers: structured,
        body: "{not json",
        status: 400,
        error: { code: "INVALID_EVENT", error: /^body is not valid JSON: / },
      },
    ],
    [
      "structured event missing id is 400",
      {
        headers: structured,
        body: JSON.stringify({ specversion: "1.0", source: "/s", type: "t" }),
        status: 400,
        error: { code: "INVALID_EVENT", error: "missing required attribute id" },
      },
    ],
    [
      "batch with one bad event is 400, naming its index",
      {
        headers: batch,
        body: JSON.stringify([
          { specversion: "1.0", id: "ok", source: "/s", type: "t" },
          { specversion: "1.0", id: "ok2", source: "/s", type: "t" },
          { specversion: "1.0", source: "/s", type: "t" },
          { specversion: "1.0", type: "t" },
        ]),
        status: 400,
        error: {
          code: "INVALID_EVENT",
          error: "event [2] of the batch: missing required attribute id",
        },
      },
    ],
    [
      "batch with an item that is not an object is 400, naming its index",
      {
        headers: batch,
        body: JSON.stringify([{ specversion: "1.0", id: "ok", source: "/s", type: "t" }, 7]),
        status: 400,
        error: {
          code: "INVALID_EVENT",
          error: "event [1] of the batch: the event must be a JSON object",
        },
      },
    ],
    [
      "knativebrokerttl already 0 is 400",
      {
        headers: binary({ "ce-knativebrokerttl": "0" }),
        body: "{}",
        status: 400,
        error: { code: "TTL_EXHAUSTED", error: /knativebrokerttl/ },
      },
    ],
    [
      "unknown broker is 404",
      {
        path: "/default/nope",
        headers: binary(),
        body: "{}",
        status: 404,
        error: { code: "NOT_FOUND", error: "broker default/nope does not exist" },
      },
    ],
    [
      "a body over the broker's limit is 413, and the connection closes",
      {
        path: "/default/small",
        headers: binary(),
        body: JSON.stringify({ x: "y".repeat(200) }),
        status: 413,
        error: {
          code: "PAYLOAD_TOO_LARGE",
          error: /^request body (of 208 bytes )?exceeds the limit of 100 bytes$/,
        },
        extra: { connection: "close" },
      },
    ],
    [
      "unknown structured format is 415",
      {
        headers: { "content-type": "application/cloudevents+avro" },
        body: "x",
        status: 415,
        error: { code: "UNSUPPORTED_FORMAT", error: /application\/cloudevents\+avro/ },
      },
    ],
  ];

  describe.each([
    ["a declared length", (body: string) => body],
    ["a chunked body", (body: string) => Readable.from([Buffer.from(body)])],
  ])("with %s", (_framing, frame) => {
    it.each(rows)("%s", async (_name, row) => {
      const method = row.method ?? "POST";
      const response = await request(`${eventail.url}${row.path ?? "/default/default"}`, {
        method,
        headers: row.headers,
        ...(method === "POST" ? { body: frame(row.body) } : {}),
      });
      const { date: _date, "keep-alive": _keepAlive, ...headers } = response.headers;
      if (headers["connection"] === "keep-alive") delete headers["connection"];
      const text = await response.body.text();
      expect(response.statusCode).toBe(row.status);
      if (row.error === undefined) {
        expect(text).toBe("");
        expect(headers).toEqual({ "content-length": "0", ...row.extra });
        return;
      }
      expect(headers).toEqual({
        "content-type": "application/json; charset=utf-8",
        "content-length": String(Buffer.byteLength(text)),
        ...row.extra,
      });
      expect(JSON.parse(text)).toEqual({
        code: row.error.code,
        error:
          typeof row.error.error === "string"
            ? row.error.error
            : expect.stringMatching(row.error.error),
      });
    });
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
  const framings: [string, (body: string) => string | Readable][] = [
    ["a declared length", (body) => body],
    ["a chunked body", (body) => Readable.from([Buffer.from(body)])],
  ];

  /** The whole error answer: status, headers and the catalogue's body. */
  const errorAnswer = async (response: Awaited<ReturnType<typeof request>>) => {
    const {
      date: _date,
      "keep-alive": _keepAlive,
      connection: _connection,
      ...headers
    } = response.headers;
    return { status: response.statusCode, headers, body: await response.body.json() };
  };

  it.each(framings)(
    "answers 429 with Retry-After when the in-flight bound is reached (%s)",
    async (_framing, frame) => {
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
      const send = (id: string) =>
        request(`${eventail.url}/default/default`, {
          method: "POST",
          headers: binary({ "ce-id": id }),
          body: frame("{}"),
        });
      try {
        const first = send("1");
        const second = send("2");
        await new Promise((resolve) => setTimeout(resolve, 200));
        const payload = { error: "too many events in flight; retry later", code: "OVER_CAPACITY" };
        expect(await errorAnswer(await send("3"))).toEqual({
          status: 429,
          headers: {
            "content-type": "application/json; charset=utf-8",
            "content-length": String(JSON.stringify(payload).length),
            "retry-after": "1",
          },
          body: payload,
        });
        release();
        expect((await first).statusCode).toBe(202);
        expect((await second).statusCode).toBe(202);
      } finally {
        release();
        await eventail.close();
      }
    },
  );

  it.each(framings)(
    "answers 503 with Retry-After when the backing is unavailable (%s)",
    async (_framing, frame) => {
      const eventail = await startWithManifests(brokerYaml(), {
        createBacking: async () => new UnavailableBacking(),
      });
      try {
        const response = await request(`${eventail.url}/default/default`, {
          method: "POST",
          headers: binary(),
          body: frame("{}"),
        });
        const payload = {
          error: "backing unavailable: engine unreachable",
          code: "BACKING_UNAVAILABLE",
        };
        expect(await errorAnswer(response)).toEqual({
          status: 503,
          headers: {
            "content-type": "application/json; charset=utf-8",
            "content-length": String(JSON.stringify(payload).length),
            "retry-after": "1",
          },
          body: payload,
        });
      } finally {
        await eventail.close();
      }
    },
  );
});
