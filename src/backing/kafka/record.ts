/**
 * One event as one record of the backing's topic: the Kafka binding's structured mode, so other
 * CloudEvents consumers (a KafkaSource included) can read the topic, and the storage JSON keeps
 * attribute types exact, which the binary mode's string headers would not.
 */
import type { KafkaMessage, Message } from "kafkajs";
import type { CloudEvent } from "../../events/event.js";
import { decodeFromStorage } from "../../events/json-format.js";
import { encodeKafkaRecord } from "../../events/kafka-binding.js";

export function toRecord(event: CloudEvent): Message {
  return encodeKafkaRecord(event, "structured");
}

/**
 * Throws when the record is not an event Eventail wrote (the caller skips it). Read as storage,
 * without the binding's validation: ingress validated every event before it was written, and
 * validating again would double the cost of reading each record.
 */
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
