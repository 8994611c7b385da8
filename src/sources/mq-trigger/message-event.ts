import { type CloudEvent, createEvent } from "../../events/event.js";
import { decodeKafkaRecord } from "../../events/kafka-binding.js";
import type { QueueMessage } from "./queue.js";

export const MQ_MESSAGE_TYPE = "dev.eventail.mqtrigger.message";

/**
 * The CloudEvent a queue message is delivered as. A message that already is a CloudEvent (the
 * Kafka binding's `ce_` headers or structured content type) goes as it is; any other becomes
 * the data of an event whose subject is the topic and whose id is the message's queue position.
 */
export function messageEvent(
  message: QueueMessage,
  source: string,
  contentType: string,
  extensions: Readonly<Record<string, string>> = {},
): CloudEvent {
  const headers = Object.entries(message.headers).map(
    ([name, value]) => [name, Buffer.from(value, "utf8")] as [string, Buffer],
  );
  try {
    const carried = decodeKafkaRecord(headers, message.body);
    if (carried) return carried;
  } catch {
    // Claims to be a CloudEvent but is not a valid one: deliver it as a plain message.
  }
  return createEvent(
    {
      specversion: "1.0",
      id: message.id,
      source,
      type: MQ_MESSAGE_TYPE,
      subject: message.topic,
      datacontenttype: message.headers["content-type"] ?? contentType,
      ...extensions,
    },
    message.body,
  );
}
