import type { KafkaMessage, Message } from "kafkajs";
import { attributeString, type CloudEvent } from "../../events/event.js";
import { decodeFromStorage, encodeForStorage } from "../../events/json-format.js";

/**
 * One event as one Kafka record. The storage encoding (attributes plus `data_base64`) is itself a
 * valid CloudEvents JSON document, so records follow the CloudEvents Kafka binding in structured
 * mode and other CloudEvents consumers (a KafkaSource included) can read the topic; it also keeps
 * attribute types exact, which the binary mode's string headers would not.
 */

const STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8";

export function toRecord(event: CloudEvent): Message {
  // The Kafka binding maps `partitionkey` to the record key: one partition, hence one order, per key.
  const key = attributeString(event, "partitionkey");
  return {
    key: key === undefined ? null : key,
    value: encodeForStorage(event),
    headers: { "content-type": STRUCTURED_CONTENT_TYPE },
  };
}

/** Throws when the record is not an event Eventail wrote (the caller skips it). */
export function fromRecord(message: KafkaMessage): CloudEvent {
  if (message.value === null) throw new Error("record value is empty (a tombstone)");
  const event = decodeFromStorage(message.value);
  for (const name of ["id", "source", "type", "specversion"]) {
    if (typeof event.attributes[name] !== "string") {
      throw new Error(`record value is not a CloudEvent: attribute ${name} is missing`);
    }
  }
  return event;
}
