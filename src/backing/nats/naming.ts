/**
 * Maps Eventail stream and consumer names (`broker.default.default`, `trigger.ns.name`: lower-case
 * DNS labels joined by dots) to JetStream names. The mapping is a pure function of the name, so
 * every process pointed at the same engine arrives at the same stream, subjects and durable.
 */
import { createHash } from "node:crypto";

const DOTTED_LABELS = /^[a-z0-9-]+(\.[a-z0-9-]+)*$/;

/** Longer names are cut and suffixed with a hash: JetStream keeps them as directory names. */
const MAX_NAME_LENGTH = 128;
const HASH_LENGTH = 16;

function checkDottedLabels(value: string, field: string): void {
  if (!DOTTED_LABELS.test(value)) {
    throw new Error(
      `${field} ${JSON.stringify(value)} must be lower-case DNS labels (a-z, 0-9, -) joined by dots`,
    );
  }
}

/** Dots become underscores: labels never hold `_`, so no two names meet. */
function flatten(value: string): string {
  const flat = value.replaceAll(".", "_");
  if (flat.length <= MAX_NAME_LENGTH) return flat;
  const digest = createHash("sha256").update(value).digest("hex").slice(0, HASH_LENGTH);
  return `${flat.slice(0, MAX_NAME_LENGTH - HASH_LENGTH - 1)}_${digest}`;
}

/** `broker.default.default` → `EVENTAIL_broker_default_default`. */
export function jetStreamName(stream: string): string {
  checkDottedLabels(stream, "stream");
  return flatten(`EVENTAIL.${stream}`);
}

/**
 * The stream's subjects: `eventail.broker_default_default.*`, one subject token per event type.
 * The stream name is one token, so no stream's wildcard can overlap another's.
 */
export function jetStreamSubjects(stream: string): string {
  checkDottedLabels(stream, "stream");
  return `eventail.${flatten(stream)}.*`;
}

/** Where an event of `type` is published on `stream`. */
export function eventSubject(stream: string, type: string): string {
  return `eventail.${flatten(stream)}.${typeToken(type)}`;
}

/** What a consumer listens to: events of one type when it gave a type hint, else no filter. */
export function consumerFilter(stream: string, typeHint: string | undefined): string | undefined {
  return typeHint === undefined ? undefined : eventSubject(stream, typeHint);
}

/** `trigger.default.my-trigger` → `trigger_default_my-trigger`. */
export function durableName(consumer: string): string {
  checkDottedLabels(consumer, "consumer");
  return flatten(consumer);
}

const typeTokens = new Map<string, string>();
const MAX_REMEMBERED_TYPES = 10_000;

/**
 * One subject token per CloudEvents type (any string, dots and wildcards included): a hash.
 * Two types sharing a token would only let a filtered consumer see the other type too, which
 * its trigger filter then rejects; no event is ever hidden from a consumer of its type.
 */
function typeToken(type: string): string {
  let token = typeTokens.get(type);
  if (token === undefined) {
    token = createHash("sha256").update(type).digest("base64url").slice(0, 22);
    if (typeTokens.size >= MAX_REMEMBERED_TYPES) typeTokens.clear();
    typeTokens.set(type, token);
  }
  return token;
}

/**
 * The JetStream stream that takes over from `jetStreamName(stream)` when retention is added to
 * a running broker (provisioning.ts, retain). Upper case: no flattened name holds any, so it
 * meets no other stream's name.
 */
export function takeoverJetStreamName(stream: string): string {
  return `${jetStreamName(stream)}_R`;
}

/** Subjects a takeover stream holds until it is given the stream's own (jetStreamSubjects). */
export function takeoverSubjects(stream: string): string {
  checkDottedLabels(stream, "stream");
  return `eventail.${flatten(stream)}_TAKEOVER.*`;
}

/** Subjects a taken-over stream holds while its consumers drain it: nothing publishes there. */
export function drainingSubjects(stream: string): string {
  checkDottedLabels(stream, "stream");
  return `eventail.${flatten(stream)}_DRAINING.*`;
}
