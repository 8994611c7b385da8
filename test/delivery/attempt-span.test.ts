import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { carrying, replyInTrace } from "../../src/delivery/attempt-span.js";
import { createEvent } from "../../src/events/event.js";
import { decodeHttpRequest, encodeHttpRequest } from "../../src/events/http-binding.js";

const INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const ATTEMPT = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01";
const OTHER_TRACE = "00-0af7651916cd43dd8448eb211c80319c-b9c7c989f97918e1-01";

function request(mode: "binary" | "structured", extra: Record<string, string> = {}) {
  const event = createEvent(
    { specversion: "1.0", id: "1", source: "/s", type: "t", traceparent: INCOMING, ...extra },
    Buffer.from('{"n":12345678901234567890}'),
  );
  const encoded = encodeHttpRequest(
    createEvent({ ...event.attributes, datacontenttype: "application/json" }, event.data),
    mode,
  );
  encoded.headers["traceparent"] = INCOMING;
  return encoded;
}

describe("an attempt's request carries the attempt span's traceparent", () => {
  it("binary mode: the W3C header and ce-traceparent change; the shared request does not", () => {
    const shared = request("binary");
    const sent = carrying(shared, ATTEMPT);
    expect(sent.headers["traceparent"]).toBe(ATTEMPT);
    expect(sent.headers["ce-traceparent"]).toBe(ATTEMPT);
    expect(sent.body).toBe(shared.body);
    expect(shared.headers["traceparent"]).toBe(INCOMING);
    expect(shared.headers["ce-traceparent"]).toBe(INCOMING);
  });

  it("structured mode: the body's extension changes and data keeps its exact bytes", () => {
    const shared = request("structured");
    const sent = carrying(shared, ATTEMPT);
    const [event] = decodeHttpRequest(sent.headers, sent.body!).events;
    expect(event!.attributes["traceparent"]).toBe(ATTEMPT);
    expect(sent.headers["traceparent"]).toBe(ATTEMPT);
    expect(sent.body!.toString()).toContain('"data":{"n":12345678901234567890}');
    expect(
      decodeHttpRequest(shared.headers, shared.body!).events[0]!.attributes["traceparent"],
    ).toBe(INCOMING);
  });

  const attributeName = fc
    .stringMatching(/^[a-z0-9]{1,12}$/)
    .filter(
      (name) => !["specversion", "id", "source", "type", "data", "traceparent"].includes(name),
    );

  it("structured mode, any event: only traceparent differs after the rewrite", () => {
    fc.assert(
      fc.property(
        fc.dictionary(attributeName, fc.string(), { maxKeys: 5 }),
        fc.option(fc.json(), { nil: undefined }),
        fc.boolean(),
        (extensions, data, traced) => {
          const attributes: Record<string, string> = {
            specversion: "1.0",
            id: "x",
            source: "/s",
            type: "t",
            ...extensions,
            ...(traced ? { traceparent: INCOMING } : {}),
          };
          if (data !== undefined) attributes["datacontenttype"] = "application/json";
          const event = createEvent(attributes, data === undefined ? undefined : Buffer.from(data));
          const shared = encodeHttpRequest(event, "structured");
          if (traced) shared.headers["traceparent"] = INCOMING;
          const sent = carrying(shared, ATTEMPT);
          const [decoded] = decodeHttpRequest(sent.headers, sent.body!).events;
          const [original] = decodeHttpRequest(shared.headers, shared.body!).events;
          expect(decoded!.attributes).toEqual({ ...original!.attributes, traceparent: ATTEMPT });
          expect(decoded!.data).toEqual(original!.data);
        },
      ),
    );
  });
});

describe("a reply joins the attempt that fetched it", () => {
  const reply = (traceparent?: string) =>
    createEvent({
      specversion: "1.0",
      id: "r",
      source: "/r",
      type: "t",
      ...(traceparent ? { traceparent } : {}),
    });

  it.each([
    ["a reply without trace context takes the attempt's", undefined, ATTEMPT, ATTEMPT],
    ["an echoed attempt context is kept", ATTEMPT, ATTEMPT, ATTEMPT],
    [
      "a subscriber's own span in the same trace is kept",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01",
      ATTEMPT,
      "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01",
    ],
    ["a context from another trace is replaced", OTHER_TRACE, ATTEMPT, ATTEMPT],
    ["an invalid context is replaced", "garbage", ATTEMPT, ATTEMPT],
    ["tracing off: the reply is left as it came", OTHER_TRACE, undefined, OTHER_TRACE],
  ])("%s", (_name, own, attempt, expected) => {
    expect(replyInTrace(reply(own), attempt).attributes["traceparent"]).toBe(expected);
  });
});
