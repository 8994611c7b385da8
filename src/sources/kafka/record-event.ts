/**
 * Kafka records as CloudEvents the way Knative's KafkaSource makes them: a record that already is
 * a CloudEvent (events/kafka-binding.ts decides) passes unchanged; any other record is wrapped.
 */
import type { KafkaMessage } from "kafkajs";
import {
  type AttributeValue,
  type CloudEvent,
  createEvent,
  withAttributes,
} from "../../events/event.js";
import { type HeaderList, headerValue } from "../../events/kafka-binding.js";

export const KAFKA_EVENT_TYPE = "dev.knative.kafka.event";

/** Knative's `kafkasources.sources.knative.dev/key-type` annotation values. */
export type KeyType = "string" | "int" | "float" | "byte-array";
export const KEY_TYPES: readonly KeyType[] = ["string", "int", "float", "byte-array"];

export interface RecordOrigin {
  /** `source` of wrapped records, before `#{topic}`. */
  readonly source: string;
  readonly topic: string;
  readonly partition: number;
  readonly keyType: KeyType;
}

/** `kafkaheader{name}`: lower-cased, anything but letters and digits dropped. */
export function headerExtensionName(header: string): string {
  return `kafkaheader${header.toLowerCase().replace(/[^a-z0-9]/g, "")}`;
}

export function decodeKey(key: Buffer, keyType: KeyType): string {
  switch (keyType) {
    case "int":
      if (key.length === 8) return key.readBigInt64BE().toString();
      if (key.length >= 1 && key.length <= 6) return String(key.readIntBE(0, key.length));
      return key.toString("base64");
    case "float":
      if (key.length === 4) return String(key.readFloatBE());
      if (key.length === 8) return String(key.readDoubleBE());
      return key.toString("base64");
    case "byte-array":
      return key.toString("base64");
    case "string":
      return key.toString("utf8");
  }
}

/** A record that is not a CloudEvent, wrapped the way Knative's KafkaSource wraps it. */
export function wrapRecord(
  message: KafkaMessage,
  headers: HeaderList,
  origin: RecordOrigin,
): CloudEvent {
  const { partition } = origin;
  const offset = message.offset;
  const attributes: Record<string, AttributeValue> = {
    specversion: "1.0",
    id: `partition:${partition}/offset:${offset}`,
    source: `${origin.source}#${origin.topic}`,
    type: KAFKA_EVENT_TYPE,
    subject: `partition:${partition}#${offset}`,
  };
  const timestamp = Number(message.timestamp);
  if (Number.isFinite(timestamp) && timestamp > 0) {
    attributes["time"] = new Date(timestamp).toISOString();
  }
  if (message.key !== null && message.key !== undefined) {
    attributes["key"] = decodeKey(message.key, origin.keyType);
  }
  for (const [name, raw] of headers) {
    const extension = headerExtensionName(name);
    if (extension !== "kafkaheader") attributes[extension] = raw.toString("utf8");
  }
  const contentType = headerValue(headers, "content-type");
  if (contentType !== undefined) attributes["datacontenttype"] = contentType;
  return createEvent(attributes, message.value ?? undefined);
}

/** Adds `ceOverrides.extensions` to an event, without touching the original. */
export function withOverrides(
  event: CloudEvent,
  extensions: Readonly<Record<string, string>> | undefined,
): CloudEvent {
  return extensions && Object.keys(extensions).length > 0
    ? withAttributes(event, extensions)
    : event;
}
