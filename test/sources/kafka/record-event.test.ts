import type { KafkaMessage } from "kafkajs";
import { describe, expect, it } from "vitest";
import { EventValidationError } from "../../../src/events/event.js";
import {
  carriedEvent,
  decodeKey,
  headerExtensionName,
  type KeyType,
  recordHeaders,
  wrapRecord,
} from "../../../src/sources/kafka/record-event.js";

const message = (patch: Partial<KafkaMessage> = {}): KafkaMessage =>
  ({
    key: null,
    value: Buffer.from('{"n":1}'),
    timestamp: "1767225600000",
    attributes: 0,
    offset: "42",
    headers: {},
    ...patch,
  }) as KafkaMessage;

const origin = {
  source: "/apis/v1/namespaces/team/kafkasources/orders",
  topic: "orders",
  partition: 3,
  keyType: "string" as KeyType,
};

describe("Kafka records as CloudEvents", () => {
  it("wraps a plain record the way Knative's KafkaSource does", () => {
    const record = message({
      key: Buffer.from("customer-7"),
      headers: { "X-Trace-Id": "abc", "content-type": "application/json" },
    });
    const event = wrapRecord(record, recordHeaders(record.headers), origin);
    expect(event.attributes).toEqual({
      specversion: "1.0",
      id: "partition:3/offset:42",
      source: "/apis/v1/namespaces/team/kafkasources/orders#orders",
      type: "dev.knative.kafka.event",
      subject: "partition:3#42",
      time: "2026-01-01T00:00:00.000Z",
      key: "customer-7",
      kafkaheaderxtraceid: "abc",
      kafkaheadercontenttype: "application/json",
      datacontenttype: "application/json",
    });
    expect(event.data?.toString()).toBe('{"n":1}');
  });

  it("leaves key out when the record has none, and data out when the value is null", () => {
    const record = message({ value: null });
    const event = wrapRecord(record, [], origin);
    expect(event.attributes["key"]).toBeUndefined();
    expect(event.data).toBeUndefined();
  });

  it.each([
    ["X-Trace-Id", "kafkaheaderxtraceid"],
    ["traceparent", "kafkaheadertraceparent"],
    ["my_header.v2", "kafkaheadermyheaderv2"],
    ["ÜBER-ß", "kafkaheaderber"],
  ])("header %j becomes extension %j", (header, extension) => {
    expect(headerExtensionName(header)).toBe(extension);
  });

  it.each<[string, KeyType, Buffer, string]>([
    ["string keys are read as UTF-8", "string", Buffer.from("héllo"), "héllo"],
    ["int keys are 4-byte big-endian", "int", Buffer.from([0, 0, 1, 0]), "256"],
    [
      "int keys may be 8-byte big-endian",
      "int",
      Buffer.from([255, 255, 255, 255, 255, 255, 255, 254]),
      "-2",
    ],
    ["float keys are 4-byte IEEE 754", "float", Buffer.from([0x3f, 0xc0, 0, 0]), "1.5"],
    [
      "float keys may be 8-byte IEEE 754",
      "float",
      Buffer.from([0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18]),
      String(Math.PI),
    ],
    ["byte-array keys are base64", "byte-array", Buffer.from([0, 1, 255]), "AAH/"],
  ])("%s", (_name, type, key, expected) => {
    expect(decodeKey(key, type)).toBe(expected);
  });

  it("passes a binary-mode CloudEvent record (ce_ headers) through unchanged", () => {
    const headers = recordHeaders({
      ce_specversion: "1.0",
      ce_id: "evt-1",
      ce_source: "/orders",
      ce_type: "com.example.order.created",
      ce_tenant: "acme",
      "content-type": "text/plain",
    });
    const event = carriedEvent(headers, Buffer.from("hello"));
    expect(event?.attributes).toEqual({
      specversion: "1.0",
      id: "evt-1",
      source: "/orders",
      type: "com.example.order.created",
      tenant: "acme",
      datacontenttype: "text/plain",
    });
    expect(event?.data?.toString()).toBe("hello");
  });

  it("passes a structured-mode CloudEvent record through unchanged", () => {
    const body = JSON.stringify({
      specversion: "1.0",
      id: "evt-2",
      source: "/orders",
      type: "com.example.order.paid",
      datacontenttype: "application/json",
      data: { amount: 3 },
    });
    const event = carriedEvent(
      recordHeaders({ "content-type": "application/cloudevents+json; charset=utf-8" }),
      Buffer.from(body),
    );
    expect(event?.attributes).toMatchObject({ id: "evt-2", type: "com.example.order.paid" });
    expect(JSON.parse(event!.data!.toString())).toEqual({ amount: 3 });
  });

  it("finds no CloudEvent in a record without ce_specversion or the structured content type", () => {
    expect(
      carriedEvent(
        recordHeaders({ ce_id: "x", "content-type": "application/json" }),
        Buffer.from("{}"),
      ),
    ).toBeUndefined();
  });

  it("refuses a record that claims to be a CloudEvent but lacks a required attribute", () => {
    expect(() =>
      carriedEvent(recordHeaders({ ce_specversion: "1.0", ce_id: "x", ce_source: "/s" }), null),
    ).toThrow(EventValidationError);
  });
});
