import { missingMessage } from "../../resources/missing-reference.js";
import {
  asArray,
  asFields,
  asString,
  type Check,
  type Fields,
  quote,
} from "../../resources/rules/check.js";
import { secretData } from "../../resources/secrets.js";
import type { SecretResource } from "../../resources/types.js";
import { KafkaNetError, type KafkaNetSpec, kafkaNetSecurity, unsupportedNet } from "./net.js";
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
        // Knative accepts any string here; nothing can connect to it, though.
        check.warn(
          path,
          `${quote(server)} is not host:port: this ${check.resource.kind} cannot connect until it is`,
        );
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
  checkNet(check, spec["net"]);
  const keyType = check.resource.metadata.annotations?.[KEY_TYPE_ANNOTATION];
  if (keyType !== undefined && !(KEY_TYPES as readonly string[]).includes(keyType)) {
    check.report(
      `metadata.annotations[${KEY_TYPE_ANNOTATION}]`,
      `must be one of ${KEY_TYPES.join(", ")} (got ${quote(keyType)})`,
    );
  }
}

/**
 * `spec.net`: the credentials AWS IAM would need are a standalone limit; a Secret not among the
 * manifests is a warning (the source starts once it is added); with every Secret present, values
 * that cannot make a connection (a missing key, SASL without a user) are errors.
 */
function checkNet(check: Check, value: unknown): void {
  const net = asFields(value) as KafkaNetSpec | undefined;
  const unsupported = unsupportedNet(net);
  for (const { path, message } of unsupported) check.report(path, message);
  if (unsupported.length > 0) return;
  let missing = false;
  for (const part of ["sasl", "tls"] as const) {
    const fields = asFields(net?.[part]);
    if (fields?.["enable"] !== true) continue;
    for (const [field, holder] of Object.entries(fields)) {
      const name = asString(asFields(asFields(holder)?.["secretKeyRef"])?.["name"]);
      if (!name || check.exists("Secret", check.namespace, name)) continue;
      const target = { kind: "Secret", namespace: check.namespace, name };
      const at = `spec.net.${part}.${field}.secretKeyRef.name`;
      check.warn(at, missingMessage(target, "KafkaSource", at));
      missing = true;
    }
  }
  if (missing) return;
  const secret = (name: string) => {
    const found = check.find("Secret", check.namespace, name);
    return found ? secretData(found as SecretResource) : undefined;
  };
  try {
    kafkaNetSecurity(net, check.namespace, secret);
  } catch (error) {
    if (!(error instanceof KafkaNetError)) throw error;
    check.report(error.path, error.reason);
  }
}
