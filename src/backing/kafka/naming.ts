/**
 * Kafka names derived from Eventail identities. Every process must arrive at the same names, so
 * they depend only on the stream (`broker.ns.name`, `channel.ns.name`) and the consumer name
 * (`trigger.ns.name`, `subscription.ns.name`).
 */
import { createHash } from "node:crypto";

const TOPIC_MAX_LENGTH = 249;
const TOPIC_CHARACTERS = /[^a-zA-Z0-9._-]/g;

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

/** `eventail.broker.default.default`; names Kafka would refuse get a hash suffix instead. */
export function topicName(prefix: string, stream: string): string {
  const wanted = prefix === "" ? stream : `${prefix}.${stream}`;
  const legal = wanted.replace(TOPIC_CHARACTERS, "_");
  if (legal === wanted && wanted.length <= TOPIC_MAX_LENGTH && wanted !== "." && wanted !== "..") {
    return wanted;
  }
  const suffix = `-${digest(wanted)}`;
  return legal.slice(0, TOPIC_MAX_LENGTH - suffix.length) + suffix;
}

/** One consumer group per (stream, consumer); `/` cannot occur in either, so no two collide. */
export function groupId(prefix: string, stream: string, consumer: string): string {
  return `${topicName(prefix, stream)}/${consumer}`;
}
