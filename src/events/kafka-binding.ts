/**
 * The CloudEvents Kafka protocol binding (1.0): binary mode (`ce_` headers, `content-type` the
 * datacontenttype, the value the data) and structured mode (content-type
 * `application/cloudevents+json`, the value a JSON event), with the `partitionkey` extension as
 * the record key. Pure: no client, no I/O. Header values are UTF-8 text as they are; unlike the
 * HTTP binding, Kafka's has no percent-encoding, so a `%` in a header is a `%` in the attribute.
 */
import {
  type AttributeValue,
  attributeString,
  type CloudEvent,
  createEvent,
  EventValidationError,
  validateEvent,
} from "./event.js";
import { decodeStructured, encodeForStorage } from "./json-format.js";

export type KafkaMode = "binary" | "structured";

/** A record's headers as Kafka clients hand them over (kafkajs' IHeaders fits). */
export type KafkaHeaders = Readonly<
  Record<string, Buffer | string | ReadonlyArray<Buffer | string> | undefined>
>;

/** Header name and value pairs in record order (a header may repeat). */
export type HeaderList = ReadonlyArray<readonly [string, Buffer]>;

/** One record to produce (kafkajs' Message fits). */
export interface KafkaRecord {
  readonly key: string | null;
  readonly value: Buffer | string | null;
  readonly headers: Record<string, string>;
}

export const STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8";

const CE_PREFIX = "ce_";

export function recordHeaders(headers: KafkaHeaders | undefined): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const one of values) {
      if (one === undefined) continue;
      out.push([name, typeof one === "string" ? Buffer.from(one, "utf8") : one]);
    }
  }
  return out;
}

/** The last value of a header, names compared case-insensitively; `name` is lower-case. */
export function headerValue(headers: HeaderList, name: string): string | undefined {
  let value: string | undefined;
  for (const [key, raw] of headers) if (key.toLowerCase() === name) value = raw.toString("utf8");
  return value;
}

/**
 * Encodes one event as a record; never fails. Structured mode writes the JSON form with the data
 * always as `data_base64`: exact bytes and attribute types, no content sniffing, and still a
 * CloudEvents JSON document any reader of the binding accepts.
 */
export function encodeKafkaRecord(event: CloudEvent, mode: KafkaMode): KafkaRecord {
  // One partition, hence one order, per partitionkey.
  const key = attributeString(event, "partitionkey") ?? null;
  if (mode === "structured") {
    return {
      key,
      value: encodeForStorage(event),
      headers: { "content-type": STRUCTURED_CONTENT_TYPE },
    };
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.attributes)) {
    if (name === "datacontenttype") headers["content-type"] = String(value);
    else headers[CE_PREFIX + name] = String(value);
  }
  return { key, value: event.data ?? null, headers };
}

/**
 * The CloudEvent a record carries, undefined when it carries none (neither `ce_specversion` nor
 * the structured content type). Throws EventValidationError naming the header or field when the
 * record claims to be an event but is not a valid one. The record key is left alone: a carried
 * event keeps exactly the attributes it was sent with.
 */
export function decodeKafkaRecord(
  headers: HeaderList,
  value: Buffer | null,
): CloudEvent | undefined {
  const contentType = headerValue(headers, "content-type");
  const mediaType = contentType?.split(";", 1)[0]?.trim().toLowerCase();
  if (mediaType === "application/cloudevents+json") return decodeStructured(value ?? "");
  if (headerValue(headers, "ce_specversion") === undefined) return undefined;
  const attributes: Record<string, AttributeValue> = {};
  for (const [name, raw] of headers) {
    const lower = name.toLowerCase();
    if (lower.startsWith(CE_PREFIX))
      attributes[lower.slice(CE_PREFIX.length)] = raw.toString("utf8");
  }
  if (contentType !== undefined) attributes["datacontenttype"] = contentType;
  const event = createEvent(attributes, value ?? undefined);
  try {
    validateEvent(event);
  } catch (error) {
    if (error instanceof EventValidationError && error.field !== "datacontenttype") {
      const header = CE_PREFIX + error.field;
      throw new EventValidationError(
        error.message.replace(`attribute ${error.field}`, `header ${header}`),
        header,
      );
    }
    throw error;
  }
  return event;
}
