/**
 * An AMQP 0-9-1 message (RabbitMQ) as a CloudEvent, the way Knative's RabbitmqSource reads one
 * (eventing-rabbitmq pkg/adapter/message): binary mode when the headers carry
 * `cloudEvents:specversion` (every `cloudEvents:*` header an attribute, `content_type` the
 * datacontenttype, the body the data); structured mode when `content_type` is
 * `application/cloudevents+json`; otherwise the body wrapped in a `dev.knative.rabbitmq.event`.
 * Pure: no client, no I/O. Throws EventValidationError for a message that claims to be a
 * CloudEvent and is not one.
 */
import { randomUUID } from "node:crypto";
import {
  type AttributeValue,
  type CloudEvent,
  createEvent,
  EventValidationError,
  isValidAttributeName,
  validateEvent,
} from "./event.js";
import { decodeStructured } from "./json-format.js";

export const RABBITMQ_EVENT_TYPE = "dev.knative.rabbitmq.event";
const PREFIX = "cloudevents:";

/** What of a delivered message the binding reads (amqplib's ConsumeMessage fits). */
export interface AmqpMessage {
  readonly content: Buffer;
  readonly properties: {
    readonly headers?: Readonly<Record<string, unknown>> | undefined;
    readonly contentType?: unknown;
    readonly messageId?: unknown;
    /** Seconds since the epoch (AMQP timestamps have no finer unit). */
    readonly timestamp?: unknown;
  };
}

/** `/apis/v1/namespaces/{ns}/rabbitmqsources/{name}#{queue}`, eventing-rabbitmq's source. */
export function rabbitmqEventSource(namespace: string, name: string, queue: string): string {
  return `/apis/v1/namespaces/${namespace}/rabbitmqsources/${name}#${queue}`;
}

/** A header value as text: AMQP tables hold strings, numbers, booleans, bytes, dates. */
function headerText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (typeof value === "object") return undefined;
  return String(value);
}

export function amqpMessageToEvent(
  message: AmqpMessage,
  source: { namespace: string; name: string; queue: string },
): CloudEvent {
  const headers = message.properties.headers ?? {};
  const contentType = headerText(message.properties.contentType) || undefined;
  const attributes: Record<string, AttributeValue> = {};
  let binary = false;
  for (const [key, value] of Object.entries(headers)) {
    const lower = key.toLowerCase();
    if (!lower.startsWith(PREFIX)) continue;
    const name = lower.slice(PREFIX.length);
    const text = headerText(value);
    if (text === undefined) continue;
    if (!isValidAttributeName(name)) {
      throw new EventValidationError(`invalid CloudEvents header ${JSON.stringify(key)}`, key);
    }
    if (name === "specversion") binary = true;
    attributes[name] = text;
  }
  if (binary) {
    if (contentType !== undefined && attributes["datacontenttype"] === undefined) {
      attributes["datacontenttype"] = contentType;
    }
    const event = createEvent(attributes, message.content.length > 0 ? message.content : undefined);
    validateEvent(event);
    return event;
  }
  if (contentType?.toLowerCase().startsWith("application/cloudevents+json")) {
    const event = decodeStructured(message.content);
    validateEvent(event);
    return event;
  }
  const id = headerText(message.properties.messageId) || randomUUID();
  const seconds = message.properties.timestamp;
  const time =
    typeof seconds === "number" && Number.isFinite(seconds) && Math.abs(seconds) < 8.64e12
      ? new Date(seconds * 1000).toISOString()
      : undefined;
  return createEvent(
    {
      specversion: "1.0",
      id,
      source: rabbitmqEventSource(source.namespace, source.name, source.queue),
      type: RABBITMQ_EVENT_TYPE,
      subject: id,
      ...(time === undefined ? {} : { time }),
      ...(contentType === undefined ? {} : { datacontenttype: contentType }),
    },
    message.content.length > 0 ? message.content : undefined,
  );
}
