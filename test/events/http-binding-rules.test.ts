import { describe, expect, it } from "vitest";
import { createEvent, EventValidationError } from "../../src/events/event.js";
import {
  decodeHttpRequest,
  decodeHttpResponse,
  encodeHttpRequest,
  UnsupportedFormatError,
} from "../../src/events/http-binding.js";

/** The binding's rules case by case: modes, rejections by name, encoding, the reply rule. */

const base = { specversion: "1.0", id: "e-1", source: "/test", type: "com.example.test" };

function prefixed(attributes: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(attributes).map(([k, v]) => [`ce-${k}`, v]));
}

const binary = prefixed(base);
const structured = { "content-type": "application/cloudevents+json" };
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe("decodeHttpRequest modes", () => {
  it.each([
    {
      name: "binary: Content-Type becomes datacontenttype and the body the data",
      headers: { ...binary, "content-type": "text/plain" },
      body: Buffer.from("hi"),
      mode: "binary",
      attributes: { ...base, datacontenttype: "text/plain" },
      data: Buffer.from("hi"),
    },
    {
      name: "binary: an empty body without Content-Type carries no data",
      headers: binary,
      body: Buffer.alloc(0),
      mode: "binary",
      attributes: base,
      data: undefined,
    },
    {
      name: "binary: an empty body with Content-Type carries empty data",
      headers: { ...binary, "content-type": "application/octet-stream" },
      body: Buffer.alloc(0),
      mode: "binary",
      attributes: { ...base, datacontenttype: "application/octet-stream" },
      data: Buffer.alloc(0),
    },
    {
      name: "binary 0.3 maps the same way",
      headers: { ...binary, "ce-specversion": "0.3", "ce-schemaurl": "http://s" },
      body: Buffer.from("x"),
      mode: "binary",
      attributes: { ...base, specversion: "0.3", schemaurl: "http://s" },
      data: Buffer.from("x"),
    },
    {
      name: "structured: charset parameter and upper-case media type are accepted",
      headers: { "content-type": "Application/CloudEvents+JSON;charset=UTF-8" },
      body: json({ ...base, datacontenttype: "text/plain", data: "hi" }),
      mode: "structured",
      attributes: { ...base, datacontenttype: "text/plain" },
      data: Buffer.from("hi"),
    },
    {
      name: "structured wins over ce- headers",
      headers: { ...structured, "ce-id": "from-header" },
      body: json(base),
      mode: "structured",
      attributes: base,
      data: undefined,
    },
    {
      name: "structured 0.3 base64 data",
      headers: structured,
      body: json({ ...base, specversion: "0.3", datacontentencoding: "base64", data: "AAEC" }),
      mode: "structured",
      attributes: { ...base, specversion: "0.3" },
      data: Buffer.from([0, 1, 2]),
    },
  ])("$name", ({ headers, body, mode, attributes, data }) => {
    const result = decodeHttpRequest(headers, body);
    expect(result.mode).toBe(mode);
    expect(result.events[0]!.attributes).toEqual(attributes);
    expect(result.events[0]!.data).toEqual(data);
  });

  it("batch: every element becomes one event, in order", () => {
    const body = json([
      { ...base, id: "a" },
      { ...base, id: "b", data: { n: 1 } },
    ]);
    const result = decodeHttpRequest(
      { "content-type": "application/cloudevents-batch+json" },
      body,
    );
    expect(result.mode).toBe("batch");
    expect(result.events.map((e) => e.attributes["id"])).toEqual(["a", "b"]);
    expect(result.events[1]!.data?.toString()).toBe('{"n":1}');
  });
});

describe("decodeHttpRequest rejections", () => {
  it.each([
    "application/cloudevents+xml",
    "application/cloudevents+avro; charset=utf-8",
    "application/cloudevents-batch+protobuf",
    "application/cloudevents",
  ])("415 UNSUPPORTED_FORMAT for %s", (contentType) => {
    const attempt = () => decodeHttpRequest({ "content-type": contentType }, Buffer.from("{}"));
    expect(attempt).toThrow(UnsupportedFormatError);
    try {
      attempt();
    } catch (error) {
      expect(error).toMatchObject({ status: 415, code: "UNSUPPORTED_FORMAT" });
      expect((error as Error).message).toContain(contentType);
    }
  });

  const bin = (patch: Record<string, string | undefined>) => {
    const headers: Record<string, string> = { ...binary };
    for (const [name, value] of Object.entries(patch)) {
      if (value === undefined) delete headers[name];
      else headers[name] = value;
    }
    return headers;
  };

  it.each([
    {
      name: "a plain JSON request is not a CloudEvent",
      headers: { "content-type": "application/json" },
      body: json({ id: "x" }),
      field: "ce-specversion",
      message: "not a CloudEvent: missing ce-specversion header",
    },
    {
      name: "binary without ce-id",
      headers: bin({ "ce-id": undefined }),
      body: Buffer.alloc(0),
      field: "ce-id",
      message: "missing required header ce-id",
    },
    {
      name: "binary without ce-source",
      headers: bin({ "ce-source": undefined }),
      body: Buffer.alloc(0),
      field: "ce-source",
      message: "missing required header ce-source",
    },
    {
      name: "binary without ce-type",
      headers: bin({ "ce-type": undefined }),
      body: Buffer.alloc(0),
      field: "ce-type",
      message: "missing required header ce-type",
    },
    {
      name: "binary with an empty ce-id",
      headers: bin({ "ce-id": "" }),
      body: Buffer.alloc(0),
      field: "ce-id",
      message: "missing required header ce-id",
    },
    {
      name: "binary with an unknown specversion",
      headers: bin({ "ce-specversion": "2.0" }),
      body: Buffer.alloc(0),
      field: "ce-specversion",
      message: "unsupported specversion",
    },
    {
      name: "binary with an invalid attribute name",
      headers: bin({ "ce-bad_name": "x" }),
      body: Buffer.alloc(0),
      field: "ce-bad_name",
      message: "invalid header ce-bad_name",
    },
    {
      name: "binary with a bad time",
      headers: bin({ "ce-time": "yesterday" }),
      body: Buffer.alloc(0),
      field: "ce-time",
      message: "header ce-time must be an RFC 3339 timestamp",
    },
    {
      name: "structured with bad JSON",
      headers: structured,
      body: Buffer.from("{"),
      field: "body",
      message: "body is not valid JSON",
    },
    {
      name: "structured without id",
      headers: structured,
      body: json({ ...base, id: undefined }),
      field: "id",
      message: "missing required attribute id",
    },
    {
      name: "structured that is an array",
      headers: structured,
      body: json([base]),
      field: "event",
      message: "must be a JSON object",
    },
    {
      name: "batch that is not an array",
      headers: { "content-type": "application/cloudevents-batch+json" },
      body: json(base),
      field: "body",
      message: "JSON array",
    },
    {
      name: "batch element without type",
      headers: { "content-type": "application/cloudevents-batch+json" },
      body: json([base, { ...base, type: undefined }]),
      field: "type",
      message: "missing required attribute type",
    },
  ])("400: $name", ({ headers, body, field, message }) => {
    let caught: unknown;
    try {
      decodeHttpRequest(headers, body);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(EventValidationError);
    expect((caught as EventValidationError).field).toBe(field);
    expect((caught as Error).message).toContain(message);
  });
});

describe("encodeHttpRequest", () => {
  const event = createEvent(
    { ...base, datacontenttype: "application/json", comexamplecount: 3, comexampleflag: true },
    Buffer.from('{"a":1}'),
  );

  it("binary: datacontenttype is Content-Type, everything else a ce- header, data the body", () => {
    const { headers, body } = encodeHttpRequest(event, "binary");
    expect(headers).toEqual({
      "ce-specversion": "1.0",
      "ce-id": "e-1",
      "ce-source": "/test",
      "ce-type": "com.example.test",
      "ce-comexamplecount": "3",
      "ce-comexampleflag": "true",
      "content-type": "application/json",
    });
    expect(body).toBe(event.data);
  });

  it("structured: one JSON object with the data inlined", () => {
    const { headers, body } = encodeHttpRequest(event, "structured");
    expect(headers).toEqual({ "content-type": "application/cloudevents+json; charset=utf-8" });
    expect(JSON.parse(body!.toString())).toEqual({
      ...base,
      datacontenttype: "application/json",
      comexamplecount: 3,
      comexampleflag: true,
      data: { a: 1 },
    });
  });
});

describe("decodeHttpResponse (CONTRACT §4 reply rule)", () => {
  const full = { ...binary };
  it.each([
    {
      name: "2xx binary with every required ce- header and an empty body is a reply",
      status: 200,
      headers: full,
      body: Buffer.alloc(0),
      reply: true,
      invalid: false,
    },
    {
      name: "202 binary with a body is a reply carrying the data",
      status: 202,
      headers: { ...full, "content-type": "text/plain" },
      body: Buffer.from("r"),
      reply: true,
      invalid: false,
    },
    {
      name: "2xx structured is a reply",
      status: 200,
      headers: structured,
      body: json(base),
      reply: true,
      invalid: false,
    },
    {
      name: "2xx plain JSON is no reply",
      status: 200,
      headers: { "content-type": "application/json" },
      body: json(base),
      reply: false,
      invalid: false,
    },
    {
      name: "204 empty is no reply",
      status: 204,
      headers: {},
      body: Buffer.alloc(0),
      reply: false,
      invalid: false,
    },
    {
      name: "ce- headers without ce-specversion are no reply",
      status: 200,
      headers: { "ce-id": "x", "ce-type": "t", "ce-source": "s" },
      body: Buffer.alloc(0),
      reply: false,
      invalid: false,
    },
    {
      name: "200 with partial ce- headers is not a reply (and says why)",
      status: 200,
      headers: { "ce-specversion": "1.0", "ce-id": "x" },
      body: Buffer.alloc(0),
      reply: false,
      invalid: true,
    },
    {
      name: "500 with every ce- header is not a reply",
      status: 500,
      headers: full,
      body: Buffer.alloc(0),
      reply: false,
      invalid: false,
    },
    {
      name: "302 with every ce- header is not a reply",
      status: 302,
      headers: full,
      body: Buffer.alloc(0),
      reply: false,
      invalid: false,
    },
    {
      name: "2xx structured with bad JSON is not a reply (and says why)",
      status: 200,
      headers: structured,
      body: Buffer.from("nope"),
      reply: false,
      invalid: true,
    },
    {
      name: "2xx batch is not a reply (and says why)",
      status: 200,
      headers: { "content-type": "application/cloudevents-batch+json" },
      body: json([base]),
      reply: false,
      invalid: true,
    },
    {
      name: "2xx unknown structured format is not a reply (and says why)",
      status: 200,
      headers: { "content-type": "application/cloudevents+xml" },
      body: Buffer.from("<x/>"),
      reply: false,
      invalid: true,
    },
  ])("$name", ({ status, headers, body, reply, invalid }) => {
    const result = decodeHttpResponse(status, headers, body);
    expect(result.event !== undefined).toBe(reply);
    expect(result.invalid !== undefined).toBe(invalid);
    if (reply) expect(result.event!.attributes["id"]).toBe("e-1");
  });
});
