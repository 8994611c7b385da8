import { describe, expect, it } from "vitest";
import { deliveryCountOf } from "../../../src/backing/nats/pull-requests.js";
import { storeEvent } from "../../../src/backing/nats/storage.js";
import { type AttributeValue, type CloudEvent, createEvent } from "../../../src/events/event.js";
import { decodeFromStorage, encodeForStorage } from "../../../src/events/json-format.js";

const base = {
  specversion: "1.0",
  id: "42",
  source: "test/storage",
  type: "dev.example.stored",
};

function event(extra: Record<string, AttributeValue> = {}, data?: Buffer): CloudEvent {
  return createEvent({ ...base, ...extra }, data);
}

describe("NATS storage encoding", () => {
  it.each<[string, CloudEvent]>([
    ["no data, no arrival time", event()],
    ["no data, an arrival time", event({ knativearrivaltime: "2026-11-29T12:00:00.123Z" })],
    [
      "JSON data and an arrival time",
      event(
        { datacontenttype: "application/json", knativearrivaltime: "2026-11-29T12:00:00.123Z" },
        Buffer.from('{"msg":"hi"}'),
      ),
    ],
    ["binary data, no arrival time", event({}, Buffer.from([0, 1, 2, 0xff, 0xfe, 0x22, 0x5c]))],
    ["empty data", event({ knativearrivaltime: "2026-11-29T12:00:00Z" }, Buffer.alloc(0))],
    [
      "quotes, backslashes, control and non-ASCII characters in attributes",
      event(
        {
          subject: 'a "quoted" \\ value\n\u0000 — ünïcödé 🚀',
          knativearrivaltime: "2026-11-29T12:00:00Z",
          ttl: 255,
          flag: true,
        },
        Buffer.from("🚀 payload"),
      ),
    ],
    [
      "only an arrival time besides data",
      createEvent({ knativearrivaltime: "t" }, Buffer.from("x")),
    ],
    ["no attributes at all", createEvent({})],
  ])("%s: decodeFromStorage reads back the same event", (_, original) => {
    const { payload } = storeEvent(original);
    const decoded = decodeFromStorage(payload);
    expect(decoded.attributes).toEqual(original.attributes);
    expect(decoded.data).toEqual(original.data);
    // The same JSON object encodeForStorage writes, member order aside.
    expect(JSON.parse(payload.toString("utf8"))).toEqual(JSON.parse(encodeForStorage(original)));
  });

  it("gives a producer's retry (same event, later arrival time) the same msgID", () => {
    const data = Buffer.from('{"n":1}');
    const first = storeEvent(event({ knativearrivaltime: "2026-11-29T12:00:00Z" }, data));
    const retry = storeEvent(event({ knativearrivaltime: "2026-11-29T12:00:05.5Z" }, data));
    expect(retry.msgId).toBe(first.msgId);
    expect(retry.payload.equals(first.payload)).toBe(false);
  });

  it("gives a different msgID to any other change of attributes or data", () => {
    const data = Buffer.from('{"n":1}');
    const arrival = { knativearrivaltime: "2026-11-29T12:00:00Z" };
    const ids = [
      storeEvent(event(arrival, data)),
      storeEvent(event(arrival, Buffer.from('{"n":2}'))),
      storeEvent(event(arrival)),
      storeEvent(event(arrival, Buffer.alloc(0))),
      storeEvent(event({ ...arrival, ttl: 254 }, data)),
      storeEvent(event({ ...arrival, knativeerrorcode: 500 }, data)),
      storeEvent(event({ ...arrival, id: "43" }, data)),
      storeEvent(event({}, data)),
    ].map((s) => s.msgId);
    // Without an arrival time the event is its own identity: same msgID as with one.
    expect(ids[7]).toBe(ids[0]);
    expect(new Set(ids.slice(0, 7)).size).toBe(7);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe("deliveryCountOf", () => {
  it.each<[string, string, number | undefined]>([
    ["the old ack subject", "$JS.ACK.EVENTAIL_s.trigger_t.3.100.90.1700000000000000000.7", 3],
    [
      "the ack subject with domain and account hash",
      "$JS.ACK._.ACCHASH.EVENTAIL_s.trigger_t.1.100.90.1700000000000000000.0",
      1,
    ],
    [
      "the ack subject with a random token",
      "$JS.ACK.hub.ACCHASH.EVENTAIL_s.trigger_t.12.100.90.1700000000000000000.0.r4nd0m",
      12,
    ],
    ["an inbox", "_INBOX.abc.def", undefined],
    ["no count", "$JS.ACK.EVENTAIL_s.trigger_t.x.100.90.1700000000000000000.7", undefined],
  ])("%s", (_, reply, expected) => {
    expect(deliveryCountOf(reply)).toBe(expected);
  });
});
