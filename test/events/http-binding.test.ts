import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CloudEvent, createEvent } from "../../src/events/event.js";
import { decodeHttpRequest, encodeHttpRequest } from "../../src/events/http-binding.js";
import { isJsonContentType } from "../../src/events/json-format.js";
import { type BindingServer, type DecodeResult, startBindingServer } from "./binding-server.js";
import { loadConformanceVectors, loadFeatureRequests } from "./conformance-vectors.js";

let server: BindingServer;
const agent = new Agent();

beforeAll(async () => {
  server = await startBindingServer();
});

afterAll(async () => {
  await agent.close();
  await server.close();
});

async function post(headers: Record<string, string>, body: Buffer | undefined) {
  const response = await request(server.url, {
    method: "POST",
    headers,
    body,
    dispatcher: agent,
  });
  return server.parse(await response.body.text());
}

function decoded(result: DecodeResult): { mode: string; events: CloudEvent[] } {
  if (!result.ok) throw new Error(`server rejected the request: ${result.message}`);
  return result;
}

const base = { specversion: "1.0", id: "e-1", source: "/test", type: "com.example.test" };

/** Structured mode re-serialises JSON data, so compare JSON data by value and the rest by bytes. */
function expectSameEvent(got: CloudEvent, want: CloudEvent, mode: "binary" | "structured") {
  if (mode === "binary") {
    expect(got.attributes).toEqual(want.attributes);
    expect(got.data).toEqual(want.data);
    return;
  }
  const { datacontenttype: gotType, ...gotRest } = got.attributes;
  const { datacontenttype: wantType, ...wantRest } = want.attributes;
  expect(gotRest).toEqual(wantRest);
  if (wantType !== undefined || want.data === undefined) expect(gotType).toBe(wantType);
  // JSON data without datacontenttype: the JSON format may make the implied application/json explicit.
  else expect([undefined, "application/json"]).toContain(gotType);
  const contentType = wantType as string | undefined;
  if (want.data !== undefined && isJsonContentType(contentType)) {
    expect(JSON.parse(got.data!.toString("utf8"))).toEqual(JSON.parse(want.data.toString("utf8")));
  } else {
    expect(got.data).toEqual(want.data);
  }
}

describe("conformance vectors (cloudevents/conformance yaml/**) over a real socket", () => {
  const vectors = loadConformanceVectors();
  const cases = vectors.flatMap((vector) =>
    (["binary", "structured"] as const).map((mode) => ({ ...vector, sendMode: mode })),
  );

  it("finds every event of the vector files", () => {
    expect(vectors.map((v) => v.name.split(" ")[0])).toEqual([
      "yaml/v0.3/v03_minimum.yaml#1",
      "yaml/v0.3/v03_minimum.yaml#2",
      "yaml/v0.3/v03_minimum.yaml#3",
      "yaml/v0.3/v03_minimum.yaml#4",
      "yaml/v0.3/v03_minimum.yaml#5",
      "yaml/v0.3/v03_minimum.yaml#6",
      "yaml/v03.yaml#1",
      "yaml/v1.0/v1_minimum.yaml#1",
      "yaml/v1.0/v1_minimum.yaml#2",
      "yaml/v1.0/v1_minimum.yaml#3",
      "yaml/v1.0/v1_minimum.yaml#4",
      "yaml/v1.0/v1_minimum.yaml#5",
      "yaml/v1.0/v1_minimum.yaml#6",
      "yaml/v1.yaml#1",
      "yaml/v1.yaml#2",
    ]);
    expect(new Set(vectors.map((v) => v.event.attributes["specversion"]))).toEqual(
      new Set(["1.0", "0.3"]),
    );
  });

  it.each(cases)("$name round-trips in $sendMode mode", async (vector) => {
    const { headers, body } = encodeHttpRequest(vector.event, vector.sendMode);
    const result = decoded(await post({ ...vector.transportHeaders, ...headers }, body));
    expect(result.mode).toBe(vector.sendMode);
    expect(result.events).toHaveLength(1);
    expectSameEvent(result.events[0]!, vector.event, vector.sendMode);
  });
});

describe("features/http-protocol-binding.feature requests, sent as raw bytes", () => {
  const requests = loadFeatureRequests();

  it("finds the four scenario examples", () => {
    expect(requests.map((r) => r.name)).toEqual([
      "Binary content mode (application/json)",
      "Binary content mode (application/json; charset=utf-8)",
      "Structured content mode (application/cloudevents+json)",
      "Structured content mode (application/cloudevents+json; charset=utf-8)",
    ]);
  });

  it.each(requests)("$name gives the expected attributes and data", async (req) => {
    expect(req.body.length).toBe(Number(req.headers["content-length"]));
    const head = [`${req.method} ${req.path} HTTP/1.1`]
      .concat(Object.entries(req.headers).map(([name, value]) => `${name}: ${value}`))
      .join("\r\n");
    const result = decoded(await server.sendRaw(`${head}\r\n\r\n${req.body.toString("utf8")}`));
    const event = result.events[0]!;
    expect(event.attributes).toEqual(req.expectedAttributes);
    expect(JSON.parse(event.data!.toString("utf8"))).toEqual(req.expectedData);
  });
});

describe("percent-encoding of ce- header values", () => {
  it.each([
    {
      name: "plain ASCII is untouched",
      value: "com.example/a-b_c:d?e=f&g",
      wire: "com.example/a-b_c:d?e=f&g",
    },
    { name: "space becomes %20", value: "a b", wire: "a%20b" },
    { name: "double quote becomes %22", value: 'say "hi"', wire: "say%20%22hi%22" },
    { name: "percent becomes %25", value: "100%", wire: "100%25" },
    { name: "an already encoded-looking value is encoded again", value: "%41", wire: "%2541" },
    {
      name: "non-ASCII is encoded as its UTF-8 bytes",
      value: "Euro € 😀",
      wire: "Euro%20%E2%82%AC%20%F0%9F%98%80",
    },
    { name: "control characters are encoded", value: "a\nb\tc\u007f", wire: "a%0Ab%09c%7F" },
  ])("$name", async ({ value, wire }) => {
    const event = createEvent({ ...base, subject: value, comexample: value });
    const { headers, body } = encodeHttpRequest(event, "binary");
    expect(headers["ce-subject"]).toBe(wire);
    expect(headers["ce-comexample"]).toBe(wire);
    const result = decoded(await post(headers, body));
    expect(result.events[0]!.attributes["subject"]).toBe(value);
    expect(result.events[0]!.attributes["comexample"]).toBe(value);
  });

  it.each([
    { name: "lower-case hex decodes", wire: "%e2%82%ac", value: "€" },
    { name: "a percent without two hex digits is kept", wire: "50%zz", value: "50%zz" },
    { name: "a trailing percent is kept", wire: "100%", value: "100%" },
    { name: "a lone raw space is accepted", wire: "a b", value: "a b" },
  ])("decoding is lenient: $name", ({ wire, value }) => {
    const { events } = decodeHttpRequest(
      { ...prefixed(base), "ce-subject": wire },
      Buffer.alloc(0),
    );
    expect(events[0]!.attributes["subject"]).toBe(value);
  });
});

describe("a structured datacontenttype a Content-Type header could not carry", () => {
  it.each([
    ["a line break (a header injected)", "text/plain\r\nx-injected: yes"],
    ["a NUL", "text/plain\u0000"],
    ["a character past Latin-1", "text/plain; name=\u20ac"],
  ])("is refused at decoding, naming datacontenttype: %s", (_name, contentType) => {
    const body = Buffer.from(JSON.stringify({ ...base, datacontenttype: contentType, data: "x" }));
    expect(() =>
      decodeHttpRequest({ "content-type": "application/cloudevents+json" }, body),
    ).toThrow(/datacontenttype/);
  });

  it("is accepted with parameters, quotes and tabs", () => {
    const contentType = 'text/plain;\tcharset="utf-8"';
    const body = Buffer.from(JSON.stringify({ ...base, datacontenttype: contentType, data: "x" }));
    const { events } = decodeHttpRequest({ "content-type": "application/cloudevents+json" }, body);
    expect(encodeHttpRequest(events[0]!, "binary").headers["content-type"]).toBe(contentType);
  });
});

function prefixed(attributes: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(attributes).map(([k, v]) => [`ce-${k}`, v]));
}
