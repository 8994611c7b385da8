import { createHash } from "node:crypto";

/** AMQP short strings (exchange and queue names, routing keys) hold at most 255 bytes. */
const SHORT_STRING_BYTES = 255;

/** Routing key of events whose type cannot be one (too long, or holding a wildcard). */
export const UNROUTABLE_TYPE_KEY = "~";

function bounded(name: string): string {
  if (Buffer.byteLength(name) <= SHORT_STRING_BYTES) return name;
  const digest = createHash("sha256").update(name).digest("hex").slice(0, 16);
  return `${Buffer.from(name)
    .subarray(0, 200)
    .toString("utf8")
    .replace(/\uFFFD+$/, "")}~${digest}`;
}

/** The topic exchange of one broker or channel stream. */
export function exchangeName(stream: string): string {
  return bounded(`eventail.${stream}`);
}

/** The durable queue of one consumer (trigger or subscription) of `stream`. */
export function queueName(stream: string, consumer: string): string {
  return bounded(`eventail.${stream}.${consumer}`);
}

/** Whether an event type can be a routing key and a binding pattern as it is. */
function routable(type: string): boolean {
  return type !== "" && Buffer.byteLength(type) <= SHORT_STRING_BYTES && !/[*#]/.test(type);
}

/** The routing key an event of `type` is published with: the type itself where it can be. */
export function routingKey(type: unknown): string {
  return typeof type === "string" && routable(type) ? type : UNROUTABLE_TYPE_KEY;
}

/**
 * The binding pattern of a consumer: its type hint where the hint is routable as it is, else
 * every event ('#'). Events of other types then never reach its queue.
 */
export function bindingPattern(typeHint: string | undefined): string {
  return typeHint !== undefined && routable(typeHint) ? typeHint : "#";
}

/** The stream queue keeping `stream`'s events under retention (archive.ts); '~' is in no consumer name. */
export function archiveQueueName(stream: string): string {
  return bounded(`eventail.${stream}~archive`);
}
