import { asFields, asString, type Check, type Fields, quote } from "../../resources/rules/check.js";
import { checkCeOverrides } from "../../resources/rules/sources.js";
import { checkBootstrapServers, KAFKA_TOPIC } from "../kafka/validate.js";
import { MESSAGE_QUEUE_TYPES, METADATA_KEYS, type MessageQueueType } from "./settings.js";

/** NATS subjects: dot-separated tokens, no whitespace; a topic to publish to has no wildcards. */
const NATS_SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/;
const MEDIA_TYPE = /^[A-Za-z0-9][-\w.+!#$&^]*\/[A-Za-z0-9][-\w.+!#$&^]*(\s*;.*)?$/;

function checkTopic(check: Check, type: MessageQueueType, topic: string, at: string): void {
  if (type === "kafka" && !KAFKA_TOPIC.test(topic)) {
    check.report(
      at,
      `invalid Kafka topic ${quote(topic)}: letters, digits, '.', '_' and '-' (at most 249)`,
    );
  } else if (type === "nats" && !NATS_SUBJECT.test(topic)) {
    check.report(
      at,
      `invalid NATS subject ${quote(topic)}: dot-separated tokens, no spaces or wildcards`,
    );
  } else if (topic.trim() === "") {
    check.report(at, "must not be empty");
  }
}

/** MessageQueueTrigger rules beyond its schema. */
export function validate(check: Check, spec: Fields): void {
  const type = asString(spec["messageQueueType"]) as MessageQueueType | undefined;
  const known = type !== undefined && MESSAGE_QUEUE_TYPES.includes(type);
  const topic = asString(spec["topic"]);
  for (const field of ["topic", "respTopic", "errorTopic"]) {
    const value = asString(spec[field]);
    if (value === undefined) continue;
    if (known) checkTopic(check, type, value, `spec.${field}`);
    if (field !== "topic" && value === topic) {
      check.report(`spec.${field}`, `must differ from topic ${quote(value)} (messages would loop)`);
    }
  }
  const metadata = asFields(spec["metadata"]) ?? {};
  if (known) {
    for (const key of Object.keys(metadata)) {
      if (!METADATA_KEYS[type].includes(key)) {
        check.report(
          `spec.metadata[${key}]`,
          `unknown key for ${type} (one of ${METADATA_KEYS[type].join(", ")})`,
        );
      }
    }
    const servers = metadata["bootstrapServers"];
    if (type === "kafka" && typeof servers === "string") {
      checkBootstrapServers(check, servers, "spec.metadata.bootstrapServers");
    }
  }
  const contentType = asString(spec["contentType"]);
  if (contentType !== undefined && !MEDIA_TYPE.test(contentType)) {
    check.report(
      "spec.contentType",
      `${quote(contentType)} is not a media type like application/json`,
    );
  }
  const delivery = asFields(spec["delivery"]);
  if (delivery?.["retry"] !== undefined) {
    check.report("spec.delivery.retry", "set spec.maxRetries instead (a trigger's retries)");
  }
  if (delivery?.["deadLetterSink"] !== undefined) {
    check.report(
      "spec.delivery.deadLetterSink",
      "set spec.errorTopic instead (where failed messages go)",
    );
  }
  checkCeOverrides(check, spec);
}
