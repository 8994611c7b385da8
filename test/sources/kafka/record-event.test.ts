import type { KafkaMessage } from "kafkajs";
import { describe, expect, it } from "vitest";
import { recordHeaders } from "../../../src/events/kafka-binding.js";
import {
  decodeKey,
  headerExtensionName,
  type KeyType,
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
});
