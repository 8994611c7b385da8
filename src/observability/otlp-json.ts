/**
 * OTLP/JSON for a batch of finished spans, written straight to a string. The SDK's
 * JsonTraceSerializer first builds the whole OTLP object tree (an object per span, attribute and
 * value, BigInt arithmetic per timestamp) and then JSON.stringifies it; that tree and its garbage
 * were the larger half of tracing's cost per span. The document is the SDK's, less the members
 * that hold a default value (zero counts, empty lists, an unset status): the protobuf JSON mapping
 * leaves those out and every OTLP receiver reads them as absent, and they were ~115 bytes per span
 * that the export then wrote to the socket.
 */
import type { Attributes, AttributeValue, HrTime, SpanContext } from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";

type Scope = ReadableSpan["instrumentationScope"];

/** `{"resource":…,"scopeSpans":[` per resource: resource attributes do not change per span. */
const resourceOpenings = new WeakMap<Resource, string>();

export function otlpJsonRequest(spans: readonly ReadableSpan[]): string {
  // Grouped as OTLP wants (resource, then scope), in first-seen order like the SDK's serializer.
  const byResource = new Map<Resource, Map<string, ReadableSpan[]>>();
  for (const span of spans) {
    let scopes = byResource.get(span.resource);
    if (scopes === undefined) {
      scopes = new Map();
      byResource.set(span.resource, scopes);
    }
    const scope = span.instrumentationScope;
    const key = `${scope.name}@${scope.version ?? ""}:${scope.schemaUrl ?? ""}`;
    const group = scopes.get(key);
    if (group === undefined) scopes.set(key, [span]);
    else group.push(span);
  }
  let out = '{"resourceSpans":[';
  let firstResource = true;
  for (const [resource, scopes] of byResource) {
    if (!firstResource) out += ",";
    firstResource = false;
    out += resourceOpening(resource);
    let firstScope = true;
    for (const group of scopes.values()) {
      if (!firstScope) out += ",";
      firstScope = false;
      const scope = group[0]!.instrumentationScope;
      out += `{"scope":${scopeJson(scope)},"spans":[`;
      for (let i = 0; i < group.length; i++) {
        if (i > 0) out += ",";
        out += spanJson(group[i]!);
      }
      out += "]";
      if (scope.schemaUrl !== undefined) out += `,"schemaUrl":${JSON.stringify(scope.schemaUrl)}`;
      out += "}";
    }
    out += "]";
    if (resource.schemaUrl) out += `,"schemaUrl":${JSON.stringify(resource.schemaUrl)}`;
    out += "}";
  }
  return `${out}]}`;
}

function resourceOpening(resource: Resource): string {
  const cached = resourceOpenings.get(resource);
  if (cached !== undefined) return cached;
  let json = `{"resource":{"attributes":${attributesJson(resource.attributes)}`;
  if (resource.schemaUrl) json += `,"schemaUrl":${JSON.stringify(resource.schemaUrl)}`;
  json += '},"scopeSpans":[';
  // Attributes still being detected may change; cache only the settled ones.
  if (!resource.asyncAttributesPending) resourceOpenings.set(resource, json);
  return json;
}

function scopeJson(scope: Scope): string {
  let json = `{"name":${JSON.stringify(scope.name)}`;
  if (scope.version !== undefined) json += `,"version":${JSON.stringify(scope.version)}`;
  const attributes = (scope as { attributes?: Attributes }).attributes;
  if (attributes !== undefined && Object.keys(attributes).length > 0) {
    const dropped = (scope as { droppedAttributesCount?: number }).droppedAttributesCount ?? 0;
    json += `,"attributes":${attributesJson(attributes)},"droppedAttributesCount":${dropped}`;
  }
  return `${json}}`;
}

// OTLP span flags: the low byte is the W3C trace flags; bit 8 says whether bit 9 (parent is
// remote) is known.
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

function spanJson(span: ReadableSpan): string {
  const context = span.spanContext();
  const parent = span.parentSpanContext;
  let json = `{"traceId":"${context.traceId}","spanId":"${context.spanId}"`;
  if (parent?.spanId) json += `,"parentSpanId":"${parent.spanId}"`;
  const traceState = context.traceState?.serialize();
  if (traceState) json += `,"traceState":${JSON.stringify(traceState)}`;
  json += `,"name":${JSON.stringify(span.name)},"kind":${span.kind + 1}`;
  json += `,"startTimeUnixNano":"${nanos(span.startTime)}","endTimeUnixNano":"${nanos(span.endTime)}"`;
  if (Object.keys(span.attributes).length > 0) {
    json += `,"attributes":${attributesJson(span.attributes)}`;
  }
  json += dropped("droppedAttributesCount", span.droppedAttributesCount);
  if (span.events.length > 0) {
    json += ',"events":[';
    for (let i = 0; i < span.events.length; i++) {
      const event = span.events[i]!;
      if (i > 0) json += ",";
      json += `{"name":${JSON.stringify(event.name)},"timeUnixNano":"${nanos(event.time)}"`;
      if (event.attributes && Object.keys(event.attributes).length > 0) {
        json += `,"attributes":${attributesJson(event.attributes)}`;
      }
      json += `${dropped("droppedAttributesCount", event.droppedAttributesCount)}}`;
    }
    json += "]";
  }
  json += dropped("droppedEventsCount", span.droppedEventsCount);
  const { code, message } = span.status;
  if (code !== 0 || message) {
    json += `,"status":{${code !== 0 ? `"code":${code}` : ""}`;
    if (message) json += `${code !== 0 ? "," : ""}"message":${JSON.stringify(message)}`;
    json += "}";
  }
  if (span.links.length > 0) {
    json += ',"links":[';
    for (let i = 0; i < span.links.length; i++) {
      const link = span.links[i]!;
      if (i > 0) json += ",";
      json += `{"traceId":"${link.context.traceId}","spanId":"${link.context.spanId}"`;
      const linkState = link.context.traceState?.serialize();
      if (linkState) json += `,"traceState":${JSON.stringify(linkState)}`;
      if (link.attributes && Object.keys(link.attributes).length > 0) {
        json += `,"attributes":${attributesJson(link.attributes)}`;
      }
      json += dropped("droppedAttributesCount", link.droppedAttributesCount);
      json += `,"flags":${flags(link.context)}}`;
    }
    json += "]";
  }
  json += dropped("droppedLinksCount", span.droppedLinksCount);
  return `${json},"flags":${flags(context, parent?.isRemote)}}`;
}

/** A count member, left out at zero as the protobuf JSON mapping leaves out default values. */
function dropped(member: string, count: number | undefined): string {
  return count ? `,"${member}":${count}` : "";
}

function flags(context: SpanContext, isRemote = context.isRemote): number {
  return (context.traceFlags & 0xff) | HAS_IS_REMOTE | (isRemote ? IS_REMOTE : 0);
}

/** An HrTime as decimal nanoseconds since the epoch, without BigInt. */
export function nanos(time: HrTime): string {
  const seconds = Math.trunc(time[0]);
  const fraction = Math.trunc(time[1]);
  if (seconds === 0) return String(fraction);
  return `${seconds}${String(fraction).padStart(9, "0")}`;
}

function attributesJson(attributes: Attributes): string {
  let json = "[";
  const keys = Object.keys(attributes);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (i > 0) json += ",";
    json += `{"key":${JSON.stringify(key)},"value":${anyValue(attributes[key])}}`;
  }
  return `${json}]`;
}

/** OTLP AnyValue, as the SDK's toAnyValue maps JavaScript values. */
function anyValue(value: AttributeValue | unknown): string {
  switch (typeof value) {
    case "string":
      return `{"stringValue":${JSON.stringify(value)}}`;
    case "number":
      return Number.isInteger(value)
        ? `{"intValue":${value}}`
        : `{"doubleValue":${JSON.stringify(value)}}`;
    case "boolean":
      return `{"boolValue":${value}}`;
  }
  if (value instanceof Uint8Array) {
    return `{"bytesValue":"${Buffer.from(value).toString("base64")}"}`;
  }
  if (Array.isArray(value)) return `{"arrayValue":{"values":[${value.map(anyValue).join(",")}]}}`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.keys(value).map(
      (key) =>
        `{"key":${JSON.stringify(key)},"value":${anyValue((value as Record<string, unknown>)[key])}}`,
    );
    return `{"kvlistValue":{"values":[${entries.join(",")}]}}`;
  }
  return "{}";
}
