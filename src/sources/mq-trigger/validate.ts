import type { Resource } from "../../resources/types.js";
import { checkBootstrapServers, KAFKA_TOPIC } from "../kafka/validate.js";
import {
  asFields,
  asString,
  checkCeOverrides,
  Problems,
  quote,
  type SourceProblem,
  specOf,
} from "../validation.js";
import { MESSAGE_QUEUE_TYPES, METADATA_KEYS, type MessageQueueType } from "./settings.js";

/** NATS subjects: dot-separated tokens, no whitespace; a topic to publish to has no wildcards. */
const NATS_SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/;
const MEDIA_TYPE = /^[A-Za-z0-9][-\w.+!#$&^]*\/[A-Za-z0-9][-\w.+!#$&^]*(\s*;.*)?$/;

function checkTopic(problems: Problems, type: MessageQueueType, topic: string, at: string): void {
  if (type === "kafka" && !KAFKA_TOPIC.test(topic)) {
    problems.report(
      at,
      `invalid Kafka topic ${quote(topic)}: letters, digits, '.', '_' and '-' (at most 249)`,
    );
  } else if (type === "nats" && !NATS_SUBJECT.test(topic)) {
    problems.report(
      at,
      `invalid NATS subject ${quote(topic)}: dot-separated tokens, no spaces or wildcards`,
    );
  } else if (topic.trim() === "") {
    problems.report(at, "must not be empty");
  }
}

/** MessageQueueTrigger rules beyond its schema. */
export function validate(resource: Resource): SourceProblem[] {
  const problems = new Problems();
  const spec = specOf(resource);
  const type = asString(spec["messageQueueType"]) as MessageQueueType | undefined;
  const known = type !== undefined && MESSAGE_QUEUE_TYPES.includes(type);
  const topic = asString(spec["topic"]);
  for (const field of ["topic", "respTopic", "errorTopic"]) {
    const value = asString(spec[field]);
    if (value === undefined) continue;
    if (known) checkTopic(problems, type, value, `spec.${field}`);
    if (field !== "topic" && value === topic) {
      problems.report(
        `spec.${field}`,
        `must differ from topic ${quote(value)} (messages would loop)`,
      );
    }
  }
  const metadata = asFields(spec["metadata"]) ?? {};
  if (known) {
    for (const key of Object.keys(metadata)) {
      if (!METADATA_KEYS[type].includes(key)) {
        problems.report(
          `spec.metadata[${key}]`,
          `unknown key for ${type} (one of ${METADATA_KEYS[type].join(", ")})`,
        );
      }
    }
    const servers = metadata["bootstrapServers"];
    if (type === "kafka" && typeof servers === "string") {
      checkBootstrapServers(problems, servers, "spec.metadata.bootstrapServers");
    }
  }
  const contentType = asString(spec["contentType"]);
  if (contentType !== undefined && !MEDIA_TYPE.test(contentType)) {
    problems.report(
      "spec.contentType",
      `${quote(contentType)} is not a media type like application/json`,
    );
  }
  const delivery = asFields(spec["delivery"]);
  if (delivery?.["retry"] !== undefined) {
    problems.report("spec.delivery.retry", "set spec.maxRetries instead (a trigger's retries)");
  }
  if (delivery?.["deadLetterSink"] !== undefined) {
    problems.report(
      "spec.delivery.deadLetterSink",
      "set spec.errorTopic instead (where failed messages go)",
    );
  }
  checkCeOverrides(problems, spec);
  return problems.list;
}
