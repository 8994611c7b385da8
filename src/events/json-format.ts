/**
 * The CloudEvents JSON event format (structured mode, batches, and the form durable backings
 * store). Decoding validates; encoding never fails.
 */
import {
  type AttributeValue,
  type CloudEvent,
  createEvent,
  EventValidationError,
  validateEvent,
} from "./event.js";
import { rawDataMembers } from "./json-raw.js";

/** `application/json`, `text/json`, and every `+json` suffix count as JSON. */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType === "") return true;
  const mediaType = contentType.split(";", 1)[0]!.trim().toLowerCase();
  return (
    mediaType === "application/json" || mediaType === "text/json" || mediaType.endsWith("+json")
  );
}

function isTextContentType(contentType: string): boolean {
  const mediaType = contentType.split(";", 1)[0]!.trim().toLowerCase();
  return (
    mediaType.startsWith("text/") ||
    mediaType.endsWith("+xml") ||
    mediaType === "application/xml" ||
    mediaType === "application/x-www-form-urlencoded"
  );
}

/** Builds the JSON object for one event (data inlined when JSON or text, else data_base64). */
export function toJsonObject(event: CloudEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { ...event.attributes };
  const data = event.data;
  if (data === undefined) return out;
  const contentType = event.attributes["datacontenttype"] as string | undefined;
  if (isJsonContentType(contentType)) {
    try {
      out["data"] = JSON.parse(data.toString("utf8"));
      return out;
    } catch {
      // Not valid JSON despite the content type: carry the bytes exactly.
    }
  } else if (contentType !== undefined && isTextContentType(contentType)) {
    const text = data.toString("utf8");
    if (Buffer.byteLength(text) === data.length) {
      out["data"] = text;
      return out;
    }
  }
  out["data_base64"] = data.toString("base64");
  return out;
}

/** Rejects bytes that are not UTF-8 instead of replacing them, and keeps a BOM as a character. */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The bytes as JSON text, when they are exactly that. */
function jsonText(data: Buffer): string | undefined {
  try {
    const text = strictUtf8.decode(data);
    JSON.parse(text);
    return text;
  } catch {
    return undefined;
  }
}

/**
 * One event in structured mode. JSON data goes in as the text it is, not parsed and re-encoded,
 * so its whitespace, key order and number forms reach the receiver unchanged.
 */
export function encodeStructured(event: CloudEvent): string {
  const data = event.data;
  if (
    data !== undefined &&
    isJsonContentType(event.attributes["datacontenttype"] as string | undefined)
  ) {
    const text = jsonText(data);
    if (text !== undefined) {
      const { data: _shadowed, ...attributes } = event.attributes as Record<string, unknown>;
      const context = JSON.stringify(attributes);
      return context === "{}" ? `{"data":${text}}` : `${context.slice(0, -1)},"data":${text}}`;
    }
  }
  return JSON.stringify(toJsonObject(event));
}

/**
 * Decodes one event from its JSON object form. Throws EventValidationError naming the field.
 * `rawData` is the `data` member's bytes as the body held them (JSON data keeps those).
 */
export function fromJsonObject(value: unknown, where = "event", rawData?: Buffer): CloudEvent {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new EventValidationError(`${where} must be a JSON object`, where);
  }
  const attributes: Record<string, AttributeValue> = {};
  let data: Buffer | undefined;
  const input = value as Record<string, unknown>;
  const hasData = Object.hasOwn(input, "data");
  const hasBase64 = Object.hasOwn(input, "data_base64");
  if (hasData && hasBase64) {
    throw new EventValidationError(`${where} has both data and data_base64`, "data_base64");
  }
  for (const [name, raw] of Object.entries(input)) {
    if (name === "data" || name === "data_base64") continue;
    if (raw === null) continue; // JSON format: null means the attribute is absent.
    if (typeof raw === "string" || typeof raw === "boolean") attributes[name] = raw;
    else if (typeof raw === "number" && Number.isInteger(raw)) attributes[name] = raw;
    else {
      throw new EventValidationError(
        `attribute ${name} must be a string, boolean or integer`,
        name,
      );
    }
  }
  if (hasBase64) {
    const raw = input["data_base64"];
    if (typeof raw !== "string") {
      throw new EventValidationError("data_base64 must be a string", "data_base64");
    }
    data = Buffer.from(raw, "base64");
  } else if (hasData && input["data"] !== null) {
    const raw = input["data"];
    const contentType = attributes["datacontenttype"] as string | undefined;
    if (attributes["datacontentencoding"] === "base64" && typeof raw === "string") {
      // CloudEvents 0.3 carried binary data as base64 text in `data`.
      data = Buffer.from(raw, "base64");
      delete attributes["datacontentencoding"];
    } else if (typeof raw === "string" && !isJsonContentType(contentType)) {
      data = Buffer.from(raw, "utf8");
    } else {
      // An absent datacontenttype stays absent: structured mode implies JSON, and attributes
      // must reach subscribers as they were sent.
      data = rawData ?? Buffer.from(JSON.stringify(raw), "utf8");
    }
  }
  const event = createEvent(attributes, data);
  validateEvent(event);
  return event;
}

/** The raw `data` members of a body JSON.parse read as `parsed`, when any event has data. */
function rawData(body: Buffer | string, parsed: unknown): Array<Buffer | undefined> | undefined {
  const events = Array.isArray(parsed) ? parsed : [parsed];
  const withData = events.some(
    (event) => typeof event === "object" && event !== null && Object.hasOwn(event, "data"),
  );
  if (!withData) return undefined;
  return rawDataMembers(typeof body === "string" ? Buffer.from(body, "utf8") : body);
}

export function decodeStructured(body: Buffer | string): CloudEvent {
  const parsed = parseJson(body);
  return fromJsonObject(parsed, "event", rawData(body, parsed)?.[0]);
}

export function decodeBatch(body: Buffer | string): CloudEvent[] {
  const parsed = parseJson(body);
  if (!Array.isArray(parsed)) {
    throw new EventValidationError("a batch must be a JSON array of events", "body");
  }
  const raw = rawData(body, parsed);
  // Accepted or rejected whole: the first bad event is named by its index (CONTRACT §3).
  return parsed.map((item, index) => {
    try {
      return fromJsonObject(item, "the event", raw?.[index]);
    } catch (error) {
      if (!(error instanceof EventValidationError)) throw error;
      throw new EventValidationError(
        `event [${index}] of the batch: ${error.message}`,
        error.field,
      );
    }
  });
}

function parseJson(body: Buffer | string): unknown {
  try {
    return JSON.parse(typeof body === "string" ? body : body.toString("utf8"));
  } catch (error) {
    throw new EventValidationError(`body is not valid JSON: ${(error as Error).message}`, "body");
  }
}

/**
 * The storage form durable backings write: attributes plus base64 data, no content sniffing, so
 * encode/decode is exact and cheap.
 */
export function encodeForStorage(event: CloudEvent): string {
  if (event.data === undefined) return JSON.stringify(event.attributes);
  return JSON.stringify({ ...event.attributes, data_base64: event.data.toString("base64") });
}

export function decodeFromStorage(text: string | Buffer): CloudEvent {
  const parsed = JSON.parse(typeof text === "string" ? text : text.toString("utf8")) as Record<
    string,
    AttributeValue
  >;
  const base64 = parsed["data_base64"];
  if (base64 === undefined) return createEvent(parsed);
  delete parsed["data_base64"];
  return createEvent(parsed, Buffer.from(String(base64), "base64"));
}
