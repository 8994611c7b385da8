import { missingMessage } from "../../resources/missing-reference.js";
import { asFields, asString, type Check, type Fields, quote } from "../../resources/rules/check.js";
import { secretData } from "../../resources/secrets.js";
import type { SecretResource } from "../../resources/types.js";
import { KafkaSecretError, kafkaSecurity } from "../../sources/kafka/kafka-auth.js";
import { checkBootstrapServers, KAFKA_TOPIC } from "../../sources/kafka/validate.js";

/**
 * KafkaSink rules beyond its schema: host:port bootstrap servers, a topic name Kafka accepts, and
 * an auth Secret whose keys make a connection (protocol, SASL mechanism, the certificates that go
 * together); a Secret not among the manifests is a warning (the sink starts once it is added).
 */
export function validate(check: Check, spec: Fields): void {
  checkBootstrapServers(check, spec["bootstrapServers"], "spec.bootstrapServers");
  const topic = asString(spec["topic"]);
  if (topic !== undefined && (!KAFKA_TOPIC.test(topic) || topic === "." || topic === "..")) {
    check.report(
      "spec.topic",
      `invalid topic ${quote(topic)}: letters, digits, '.', '_' and '-' (at most 249)`,
    );
  }
  const name = asString(asFields(asFields(asFields(spec["auth"])?.["secret"])?.["ref"])?.["name"]);
  if (name === undefined) return;
  const at = "spec.auth.secret.ref.name";
  const secret = check.find("Secret", check.namespace, name);
  if (!secret) {
    check.warn(
      at,
      missingMessage({ kind: "Secret", namespace: check.namespace, name }, "KafkaSink", at),
    );
    return;
  }
  try {
    kafkaSecurity(secretData(secret as SecretResource));
  } catch (error) {
    if (!(error instanceof KafkaSecretError)) throw error;
    check.report(at, `Secret ${check.namespace}/${name}, key ${error.key}: ${error.message}`);
  }
}
