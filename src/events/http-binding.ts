/**
 * The CloudEvents HTTP protocol binding (1.0, and 0.3 which maps the same way): binary,
 * structured and batched modes for requests, and the reply rule of CONTRACT §4 for responses.
 *
 * The broker's hot path keeps this binding rather than the cloudevents SDK's: the SDK validates
 * every event against its JSON schema with ajv and builds a frozen class instance per event,
 * while ingress, every delivery and every reply decode or encode each event at the pace events
 * are relayed, where a plain attribute record and one validation pass are enough. The SDK stays
 * the independent oracle of this file (test/events/http-binding-sdk.test.ts: each side reads what
 * the other writes) and builds the events of `eventail send`.
 */
import {
  type AttributeValue,
  type CloudEvent,
  EventValidationError,
  isValidAttributeName,
  ownEvent,
  validateEvent,
} from "./event.js";
import { decodeBatch, decodeStructured, encodeStructured } from "./json-format.js";
import { percentDecodeHeaderValue, percentEncodeHeaderValue } from "./percent.js";

export type HttpHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

export type HttpMode = "binary" | "structured" | "batch";

export const STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8";

/** A structured or batched event format other than JSON: ingress answers 415. */
export class UnsupportedFormatError extends Error {
  readonly status = 415;
  readonly code = "UNSUPPORTED_FORMAT";
  constructor(readonly contentType: string) {
    super(
      `unsupported CloudEvents format ${JSON.stringify(contentType)} (only +json is supported)`,
    );
    this.name = "UnsupportedFormatError";
  }
}

function headerValue(headers: HttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined || typeof value === "string") return value;
  return value.join(", ");
}

/** The media type of a Content-Type value, lower-cased, parameters dropped. */
function mediaType(contentType: string): string {
  const semicolon = contentType.indexOf(";");
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

type ContentMode = "binary" | "structured" | "batch" | "unsupported";

function contentMode(contentType: string | undefined): ContentMode {
  if (contentType === undefined) return "binary";
  const type = mediaType(contentType);
  if (!type.startsWith("application/cloudevents")) return "binary";
  if (type === "application/cloudevents+json") return "structured";
  if (type === "application/cloudevents-batch+json") return "batch";
  return "unsupported";
}

const CE_PREFIX = "ce-";

const attributeNames = new Map<string, string>();

/**
 * The attribute a `ce-` header carries, checked once per header name and kept (bounded, like
 * headerName below): slicing and checking the same few names per request is work for nothing.
 */
function attributeName(header: string): string {
  let name = attributeNames.get(header);
  if (name === undefined) {
    name = header.slice(CE_PREFIX.length);
    if (!isValidAttributeName(name)) {
      throw new EventValidationError(
        `invalid header ${header}: attribute names are lower-case letters and digits`,
        header,
      );
    }
    if (attributeNames.size >= 1024) attributeNames.clear();
    attributeNames.set(header, name);
  }
  return name;
}
const BINARY_REQUIRED = ["id", "source", "type"] as const;

/** Binary mode: `ce-*` headers are the attributes, Content-Type the datacontenttype, body the data. */
function decodeBinary(headers: HttpHeaders, body: Buffer | undefined): CloudEvent {
  const attributes: Record<string, AttributeValue> = {};
  for (const name in headers) {
    if (!name.startsWith(CE_PREFIX)) continue;
    const value = headerValue(headers, name);
    if (value === undefined) continue;
    attributes[attributeName(name)] = percentDecodeHeaderValue(value);
  }
  for (const name of BINARY_REQUIRED) {
    if (!attributes[name]) {
      throw new EventValidationError(`missing required header ce-${name}`, `ce-${name}`);
    }
  }
  const contentType = headerValue(headers, "content-type");
  if (contentType !== undefined) attributes["datacontenttype"] = contentType;
  const hasData = body !== undefined && (body.length > 0 || contentType !== undefined);
  const event = ownEvent(attributes, hasData ? body : undefined);
  try {
    validateEvent(event);
  } catch (error) {
    if (error instanceof EventValidationError && error.field !== "datacontenttype") {
      const header = `ce-${error.field}`;
      const message = error.message.replace(`attribute ${error.field}`, `header ${header}`);
      throw new EventValidationError(message, header);
    }
    throw error;
  }
  return event;
}

/**
 * Decodes an incoming request into its events. Throws UnsupportedFormatError (415) for a
 * non-JSON CloudEvents format and EventValidationError (400) naming the header or field for
 * everything else that is not a valid CloudEvent.
 */
export function decodeHttpRequest(
  headers: HttpHeaders,
  body: Buffer,
): { mode: HttpMode; events: CloudEvent[] } {
  const contentType = headerValue(headers, "content-type");
  const mode = contentMode(contentType);
  if (mode === "unsupported") throw new UnsupportedFormatError(contentType ?? "");
  if (mode === "structured") return { mode, events: [decodeStructured(body)] };
  if (mode === "batch") return { mode, events: decodeBatch(body) };
  if (headerValue(headers, "ce-specversion") === undefined) {
    throw new EventValidationError(
      "not a CloudEvent: missing ce-specversion header",
      "ce-specversion",
    );
  }
  return { mode, events: [decodeBinary(headers, body)] };
}

export interface EncodedHttpMessage {
  headers: Record<string, string>;
  body: Buffer | undefined;
}

/**
 * Encodes one event as a request (or response) body and headers; never fails. Binary mode leaves
 * out the attribute `omit` (the dispatcher's knativebrokerttl): deleting a header afterwards
 * would turn the headers object into a slow dictionary for every later read.
 */
export function encodeHttpRequest(
  event: CloudEvent,
  mode: "binary" | "structured",
  omit?: string,
): EncodedHttpMessage {
  if (mode === "structured") {
    return {
      headers: { "content-type": STRUCTURED_CONTENT_TYPE },
      body: Buffer.from(encodeStructured(event), "utf8"),
    };
  }
  const headers: Record<string, string> = {};
  const attributes = event.attributes;
  for (const name in attributes) {
    if (name === omit) continue;
    const raw = attributes[name]!;
    const value = typeof raw === "string" ? raw : String(raw);
    if (name === "datacontenttype") headers["content-type"] = value;
    else headers[headerName(name)] = percentEncodeHeaderValue(value);
  }
  return { headers, body: event.data };
}

const headerNames = new Map<string, string>();

/**
 * `ce-` + name, kept: a concatenated string is a rope that undici flattens and checks again on
 * every request, where a kept one is flat once. Attribute names are few in practice; the map is
 * emptied should a producer invent new ones without end.
 */
function headerName(attribute: string): string {
  let name = headerNames.get(attribute);
  if (name === undefined) {
    if (headerNames.size >= 1024) headerNames.clear();
    name = CE_PREFIX + attribute;
    headerNames.set(attribute, name);
  }
  return name;
}

/** What a response to a delivery carried: a reply event, nothing, or something that claimed to be one. */
export interface HttpReply {
  /** The reply event, when the response is a 2xx carrying a valid CloudEvent. */
  event?: CloudEvent;
  /** Why a response that claimed to carry an event (ce-specversion, or a CloudEvents content type) was not used; for logs. */
  invalid?: string;
}

const NO_REPLY: HttpReply = Object.freeze({});

/** Cheap pre-check on response headers: could this response carry an event at all? */
export function mayCarryEvent(headers: HttpHeaders): boolean {
  if (headers["ce-specversion"] !== undefined) return true;
  const contentType = headerValue(headers, "content-type");
  return contentType !== undefined && contentMode(contentType) !== "binary";
}

/**
 * CONTRACT §4: a 2xx is a reply when it carries a CloudEvent — binary mode by `ce-specversion`
 * plus the other required `ce-` headers whatever the body (empty included), structured mode by
 * a CloudEvents content type. Anything else is no reply. Never throws.
 */
export function decodeHttpResponse(
  status: number,
  headers: HttpHeaders,
  body: Buffer | undefined,
): HttpReply {
  if (status < 200 || status > 299) return NO_REPLY;
  const contentType = headerValue(headers, "content-type");
  const mode = contentMode(contentType);
  if (mode === "binary" && headers["ce-specversion"] === undefined) return NO_REPLY;
  try {
    if (mode === "structured") return { event: decodeStructured(body ?? Buffer.alloc(0)) };
    if (mode === "binary") return { event: decodeBinary(headers, body) };
    if (mode === "batch") return { invalid: "a reply must be one event, not a batch" };
    return { invalid: new UnsupportedFormatError(contentType ?? "").message };
  } catch (error) {
    return { invalid: `reply is not a valid CloudEvent: ${(error as Error).message}` };
  }
}
