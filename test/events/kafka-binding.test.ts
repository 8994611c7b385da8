import { Kafka, type KafkaMessage, CloudEvent as SdkEvent } from "cloudevents";
import { describe, expect, it } from "vitest";
import { type Attributes, createEvent, EventValidationError } from "../../src/events/event.js";
import {
  decodeKafkaRecord,
  encodeKafkaRecord,
  type KafkaHeaders,
  type KafkaMode,
  recordHeaders,
} from "../../src/events/kafka-binding.js";

/** The Kafka binding case by case, and against the cloudevents SDK's Kafka binding as an oracle. */

const base = { specversion: "1.0", id: "e-1", source: "/orders", type: "com.example.order" };
const binary = {
  ce_specversion: "1.0",
  ce_id: "e-1",
  ce_source: "/orders",
  ce_type: "com.example.order",
};
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

function decode(headers: KafkaHeaders, value: Buffer | null) {
  return decodeKafkaRecord(recordHeaders(headers), value);
}

describe("decodeKafkaRecord", () => {
  it.each<{
    name: string;
    headers: KafkaHeaders;
    value: Buffer | null;
    attributes: Attributes;
    data: string | undefined;
  }>([
    {
      name: "binary: ce_ headers are the attributes, content-type the datacontenttype, value the data",
      headers: { ...binary, ce_tenant: "acme", "content-type": "text/plain" },
      value: Buffer.from("hello"),
      attributes: { ...base, tenant: "acme", datacontenttype: "text/plain" },
      data: "hello",
    },
    {
      name: "binary: header values are UTF-8 text",
      headers: { ...binary, ce_subject: Buffer.from("Grüße 🎉", "utf8") },
      value: null,
      attributes: { ...base, subject: "Grüße 🎉" },
      data: undefined,
    },
    {
      name: "binary: a percent sequence stays as sent (Kafka headers are not percent-encoded)",
      headers: { ...binary, ce_subject: "a%20b%" },
      value: null,
      attributes: { ...base, subject: "a%20b%" },
      data: undefined,
    },
    {
      name: "binary: header names are matched case-insensitively",
      headers: {
        CE_SpecVersion: "1.0",
        CE_ID: "e-1",
        ce_Source: "/orders",
        ce_type: "com.example.order",
      },
      value: null,
      attributes: base,
      data: undefined,
    },
    {
      name: "binary: of a repeated header the last value counts",
      headers: { ...binary, ce_tenant: ["first", "last"] },
      value: null,
      attributes: { ...base, tenant: "last" },
      data: undefined,
    },
    {
      name: "binary: content-type wins over a ce_datacontenttype header",
      headers: { ...binary, ce_datacontenttype: "text/plain", "content-type": "application/json" },
      value: json({ n: 1 }),
      attributes: { ...base, datacontenttype: "application/json" },
      data: '{"n":1}',
    },
    {
      name: "binary: the record key does not become partitionkey (the event keeps what it was sent with)",
      headers: binary,
      value: null,
      attributes: base,
      data: undefined,
    },
    {
      name: "structured: charset parameter and upper-case media type are accepted",
      headers: { "Content-Type": "Application/CloudEvents+JSON; charset=UTF-8" },
      value: json({ ...base, datacontenttype: "application/json", data: { amount: 3 } }),
      attributes: { ...base, datacontenttype: "application/json" },
      data: '{"amount":3}',
    },
    {
      name: "structured: data_base64 is the data's bytes, integer and boolean extensions keep their types",
      headers: { "content-type": "application/cloudevents+json" },
      value: json({ ...base, count: 3, urgent: true, data_base64: "aGk=" }),
      attributes: { ...base, count: 3, urgent: true },
      data: "hi",
    },
  ])("$name", ({ headers, value, attributes, data }) => {
    const event = decode(headers, value);
    expect(event?.attributes).toEqual(attributes);
    expect(event?.data?.toString("utf8")).toBe(data);
  });

  it.each<{ name: string; headers: KafkaHeaders }>([
    { name: "a plain record without headers", headers: {} },
    {
      name: "a JSON record with only a content-type",
      headers: { "content-type": "application/json" },
    },
    {
      name: "ce_ headers without ce_specversion",
      headers: { ce_id: "x", ce_source: "/s", ce_type: "t" },
    },
  ])("carries no CloudEvent: $name", ({ headers }) => {
    expect(decode(headers, json({ id: "x" }))).toBeUndefined();
  });

  it.each<{
    name: string;
    headers: KafkaHeaders;
    value: Buffer | null;
    field: string;
    message: RegExp;
  }>([
    {
      name: "binary without ce_type names the header",
      headers: { ce_specversion: "1.0", ce_id: "x", ce_source: "/s" },
      value: null,
      field: "ce_type",
      message: /^missing required header ce_type$/,
    },
    {
      name: "binary with an unknown ce_specversion names the header",
      headers: { ...binary, ce_specversion: "2.0" },
      value: null,
      field: "ce_specversion",
      message: /unsupported specversion "2.0"/,
    },
    {
      name: "binary with a bad ce_time names the header",
      headers: { ...binary, ce_time: "yesterday" },
      value: null,
      field: "ce_time",
      message: /^header ce_time must be an RFC 3339 timestamp$/,
    },
    {
      name: "structured with a value that is not JSON",
      headers: { "content-type": "application/cloudevents+json" },
      value: Buffer.from("{nope"),
      field: "body",
      message: /^body is not valid JSON/,
    },
    {
      name: "structured with an empty value (a tombstone)",
      headers: { "content-type": "application/cloudevents+json" },
      value: null,
      field: "body",
      message: /^body is not valid JSON/,
    },
    {
      name: "structured without a required attribute",
      headers: { "content-type": "application/cloudevents+json" },
      value: json({ specversion: "1.0", id: "x", source: "/s" }),
      field: "type",
      message: /^missing required attribute type$/,
    },
  ])(
    "refuses a record that claims to be a CloudEvent but is not: $name",
    ({ headers, value, field, message }) => {
      let caught: unknown;
      try {
        decode(headers, value);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(EventValidationError);
      expect((caught as EventValidationError).field).toBe(field);
      expect((caught as Error).message).toMatch(message);
    },
  );
});

describe("encodeKafkaRecord", () => {
  const event = createEvent(
    {
      ...base,
      datacontenttype: "text/plain",
      subject: "Grüße a%20b",
      partitionkey: "customer-7",
      count: 3,
    },
    Buffer.from("hello"),
  );

  it("binary: every attribute but datacontenttype is a ce_ header written as UTF-8 text", () => {
    expect(encodeKafkaRecord(event, "binary")).toEqual({
      key: "customer-7",
      value: Buffer.from("hello"),
      headers: {
        ce_specversion: "1.0",
        ce_id: "e-1",
        ce_source: "/orders",
        ce_type: "com.example.order",
        ce_subject: "Grüße a%20b",
        ce_partitionkey: "customer-7",
        ce_count: "3",
        "content-type": "text/plain",
      },
    });
  });

  it("structured: the JSON event with its data as data_base64 and the CloudEvents content type", () => {
    const record = encodeKafkaRecord(event, "structured");
    expect(record.key).toBe("customer-7");
    expect(record.headers).toEqual({
      "content-type": "application/cloudevents+json; charset=UTF-8",
    });
    expect(JSON.parse(String(record.value))).toEqual({
      ...event.attributes,
      data_base64: Buffer.from("hello").toString("base64"),
    });
  });

  it.each<KafkaMode>(["binary", "structured"])(
    "%s: an event without partitionkey has no key",
    (mode) => {
      expect(encodeKafkaRecord(createEvent(base), mode).key).toBeNull();
    },
  );

  it.each<[KafkaMode, Attributes]>([
    ["binary", { ...event.attributes, count: "3" }],
    ["structured", event.attributes],
  ])(
    "%s: decoding the encoded record gives the event back (binary turns integers into text)",
    (mode, attributes) => {
      const record = encodeKafkaRecord(event, mode);
      const value = record.value === null ? null : Buffer.from(record.value);
      const back = decodeKafkaRecord(recordHeaders(record.headers), value);
      expect(back?.attributes).toEqual(attributes);
      expect(back?.data?.toString()).toBe("hello");
    },
  );
});

describe("the Kafka binding agrees with the cloudevents SDK", () => {
  const attributes = {
    ...base,
    time: "2026-01-01T00:00:00.000Z",
    datacontenttype: "text/plain",
    partitionkey: "customer-7",
    tenant: "Grüße a%20b",
  };
  const ours = createEvent(attributes, Buffer.from("héllo"));
  const sdkEvent = new SdkEvent({ ...attributes, data: "héllo" });

  it.each<KafkaMode>(["binary", "structured"])(
    "%s: a record the SDK wrote decodes to the same event",
    (mode) => {
      const message = mode === "binary" ? Kafka.binary(sdkEvent) : Kafka.structured(sdkEvent);
      const value = Buffer.from(String(message.value));
      const event = decodeKafkaRecord(recordHeaders(message.headers as KafkaHeaders), value);
      expect(event?.attributes).toEqual(attributes);
      expect(event?.data?.toString("utf8")).toBe("héllo");
    },
  );

  it.each<KafkaMode>(["binary", "structured"])(
    "%s: a record we wrote decodes in the SDK to the same event",
    (mode) => {
      const record = encodeKafkaRecord(ours, mode);
      const message: KafkaMessage = {
        key: record.key ?? "",
        value: record.value,
        headers: record.headers,
        body: record.value,
      };
      const back = Kafka.toEvent(message) as SdkEvent<Uint8Array | string>;
      const { data: _data, data_base64: _base64, ...context } = back.toJSON();
      expect(context).toEqual(attributes);
      const data = back.data === undefined ? "" : Buffer.from(back.data).toString("utf8");
      expect(data).toBe("héllo");
    },
  );
});
