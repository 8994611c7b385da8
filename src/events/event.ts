/**
 * The CloudEvent value that flows through Eventail.
 *
 * Events are immutable: every change (TTL, arrival time, error extensions) makes a copy with
 * `withAttributes`. Attributes are kept in one flat, lower-case map (context attributes and
 * extensions alike), the way the HTTP binary mode and CESQL see them. The payload is kept as raw
 * bytes; `datacontenttype` says how to read them.
 */
export type AttributeValue = string | number | boolean;

export type Attributes = Readonly<Record<string, AttributeValue>>;

export interface CloudEvent {
  readonly attributes: Attributes;
  /** The payload bytes, absent when the event carries no data. */
  readonly data?: Buffer;
}

const REQUIRED_ATTRIBUTES = ["specversion", "id", "source", "type"] as const;

const SUPPORTED_SPEC_VERSIONS = new Set(["1.0", "0.3"]);

/** CloudEvents 1.0: attribute names are lower-case ASCII letters and digits. */
const ATTRIBUTE_NAME = /^[a-z0-9]+$/;

export function isValidAttributeName(name: string): boolean {
  return ATTRIBUTE_NAME.test(name);
}

export function createEvent(attributes: Record<string, AttributeValue>, data?: Buffer): CloudEvent {
  // Not `{ ...attributes }`: V8 freezes a spread copy of a fresh object far more slowly than an
  // Object.assign copy, and reads of the result stay slow; ingress pays it per event.
  return Object.freeze({ attributes: Object.freeze(Object.assign({}, attributes)), data });
}

/**
 * createEvent for an attribute record the caller built for this event and never touches again:
 * frozen as it is, without the copy (ingress decodes, then stamps, every event).
 */
export function ownEvent(attributes: Record<string, AttributeValue>, data?: Buffer): CloudEvent {
  return Object.freeze({ attributes: Object.freeze(attributes), data });
}

/**
 * Returns a copy with `patch` applied; an `undefined` value removes the attribute.
 */
export function withAttributes(
  event: CloudEvent,
  patch: Readonly<Record<string, AttributeValue | undefined>>,
): CloudEvent {
  const attributes: Record<string, AttributeValue> = Object.assign({}, event.attributes);
  for (const name in patch) {
    const value = patch[name];
    if (value === undefined) delete attributes[name];
    else attributes[name] = value;
  }
  return Object.freeze({ attributes: Object.freeze(attributes), data: event.data });
}

/** The attribute as a string (how HTTP headers and filters see it), or undefined. */
export function attributeString(event: CloudEvent, name: string): string | undefined {
  const value = event.attributes[name];
  return value === undefined ? undefined : String(value);
}

export class EventValidationError extends Error {
  constructor(
    message: string,
    /** The attribute or header the problem is about. */
    readonly field: string,
  ) {
    super(message);
    this.name = "EventValidationError";
  }
}

/**
 * Checks the rules every CloudEvent must satisfy, throwing EventValidationError naming the field.
 */
export function validateEvent(event: CloudEvent): void {
  const specversion = event.attributes["specversion"];
  if (specversion === undefined || specversion === "") {
    throw new EventValidationError("missing required attribute specversion", "specversion");
  }
  if (!SUPPORTED_SPEC_VERSIONS.has(String(specversion))) {
    throw new EventValidationError(
      `unsupported specversion ${JSON.stringify(specversion)} (expected 1.0 or 0.3)`,
      "specversion",
    );
  }
  for (const name of REQUIRED_ATTRIBUTES) {
    const value = event.attributes[name];
    if (value === undefined || value === "") {
      throw new EventValidationError(`missing required attribute ${name}`, name);
    }
    if (typeof value !== "string") {
      throw new EventValidationError(`attribute ${name} must be a string`, name);
    }
  }
  for (const name of Object.keys(event.attributes)) {
    if (!isValidAttributeName(name)) {
      throw new EventValidationError(
        `invalid attribute name ${JSON.stringify(name)}: only lower-case letters and digits are allowed`,
        name,
      );
    }
  }
  const time = event.attributes["time"];
  if (time !== undefined && (typeof time !== "string" || Number.isNaN(Date.parse(time)))) {
    throw new EventValidationError("attribute time must be an RFC 3339 timestamp", "time");
  }
  // Delivered in binary mode it is the Content-Type header, which cannot carry a line break:
  // refused here rather than accepted and then undeliverable (or a header injected).
  const contentType = event.attributes["datacontenttype"];
  if (
    contentType !== undefined &&
    (typeof contentType !== "string" || INVALID_HEADER_CHARACTER.test(contentType))
  ) {
    throw new EventValidationError(
      "attribute datacontenttype must be a string without control characters",
      "datacontenttype",
    );
  }
}

/** What Node's HTTP stack refuses in a header value. */
const INVALID_HEADER_CHARACTER = /[^\t\x20-\x7e\x80-\xff]/;

/** A short description for logs. */
export function eventLogFields(event: CloudEvent): { id: string; source: string; type: string } {
  return {
    id: String(event.attributes["id"] ?? ""),
    source: String(event.attributes["source"] ?? ""),
    type: String(event.attributes["type"] ?? ""),
  };
}
