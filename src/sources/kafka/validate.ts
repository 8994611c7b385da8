import {
  asArray,
  asFields,
  asString,
  type Check,
  type Fields,
  quote,
} from "../../resources/rules/check.js";
import { KEY_TYPES } from "./record-event.js";
import { KEY_TYPE_ANNOTATION } from "./settings.js";

/** Kafka's topic name rule (and its 249-character limit). */
export const KAFKA_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

/** Each entry may itself be a comma-separated list, as Knative allows. */
export function checkBootstrapServers(check: Check, value: unknown, at: string): void {
  const entries = typeof value === "string" ? [value] : asArray(value);
  entries.forEach((entry, index) => {
    const text = asString(entry);
    if (text === undefined) return;
    const path = typeof value === "string" ? at : `${at}[${index}]`;
    for (const server of text.split(",").map((s) => s.trim())) {
      if (!HOST_PORT.test(server)) {
        check.report(path, `${quote(server)} is not host:port`);
      }
    }
  });
}

/** KafkaSource rules beyond its schema. */
export function validate(check: Check, spec: Fields): void {
  checkBootstrapServers(check, spec["bootstrapServers"], "spec.bootstrapServers");
  const seen = new Set<string>();
  asArray(spec["topics"]).forEach((value, index) => {
    const topic = asString(value);
    if (topic === undefined) return;
    if (!KAFKA_TOPIC.test(topic) || topic === "." || topic === "..") {
      check.report(
        `spec.topics[${index}]`,
        `invalid topic ${quote(topic)}: letters, digits, '.', '_' and '-' (at most 249)`,
      );
    } else if (seen.has(topic)) {
      check.report(`spec.topics[${index}]`, `duplicate topic ${quote(topic)}`);
    }
    seen.add(topic);
  });
  const net = asFields(spec["net"]);
  for (const part of ["sasl", "tls"]) {
    if (asFields(net?.[part])?.["enable"] === true) {
      check.report(
        `spec.net.${part}.enable`,
        `${part.toUpperCase()} connections are not supported by Eventail's KafkaSource yet`,
      );
    }
  }
  const keyType = check.resource.metadata.annotations?.[KEY_TYPE_ANNOTATION];
  if (keyType !== undefined && !(KEY_TYPES as readonly string[]).includes(keyType)) {
    check.report(
      `metadata.annotations[${KEY_TYPE_ANNOTATION}]`,
      `must be one of ${KEY_TYPES.join(", ")} (got ${quote(keyType)})`,
    );
  }
}
