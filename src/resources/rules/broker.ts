import { parse } from "yaml";
import {
  BROKER_CLASS_ANNOTATION,
  BROKER_CLASSES,
  BrokerConfigError,
  brokerBacking,
  brokerConfigRef,
  KNATIVE_NAMESPACE,
} from "../broker-config.js";
import { FEATURES_NAME, featureEnabled } from "../features.js";
import { childPath } from "../issue.js";
import { isMissingReference, missingMessage } from "../missing-reference.js";
import { isRabbitCluster, operatorClusterWarning } from "../rabbitmq-config.js";
import { secretData } from "../secrets.js";
import type { BrokerSpec, Resource, SecretResource } from "../types.js";
import { asFields, asString, type Check, type Fields, quote } from "./check.js";
import { checkDelivery } from "./delivery.js";
import { checkServedVersion, checkTargetExists } from "./destination.js";

type BrokerLike = Resource<BrokerSpec>;

/** The data of a loaded ConfigMap, for broker-config.ts and features.ts. */
export function configMapData(check: Check) {
  return (namespace: string, name: string) => check.find("ConfigMap", namespace, name)?.data;
}

/** Where a RabbitmqBrokerConfig and its connection Secret are found, for broker-config.ts. */
export function rabbitLookup(check: Check) {
  return {
    resource: (kind: string, namespace: string, name: string) => check.find(kind, namespace, name),
    secret: (namespace: string, name: string) => {
      const secret = check.find("Secret", namespace, name);
      return secret ? secretData(secret as SecretResource) : undefined;
    },
  };
}

/** YAML that does not parse reads as nothing here: the ConfigMap's own rule reports it. */
function parseQuietly(text: string): unknown {
  try {
    return parse(text);
  } catch {
    return undefined;
  }
}

/**
 * A Broker's configuration must pick a backing Eventail runs (broker-config.ts says how, Knative's
 * ConfigMaps included); its class annotation may be any class Knative ships.
 */
export function checkBroker(check: Check, spec: Fields): void {
  checkDelivery(check, spec["delivery"], "spec.delivery");
  const config = asFields(spec["config"]);
  if (config && (!asString(config["kind"]) || !asString(config["name"]))) return;
  try {
    brokerBacking(
      { metadata: check.resource.metadata, spec: spec as BrokerSpec },
      configMapData(check),
      parseQuietly,
      rabbitLookup(check),
    );
  } catch (error) {
    if (isMissingReference(error)) {
      check.warn(error.path, missingMessage(error.target, "Broker", error.path, error.via));
    } else if (error instanceof BrokerConfigError) {
      check.report(error.path, error.message);
    } else throw error;
  }
  if (config && isRabbitCluster(config as { apiVersion?: string; kind: string })) {
    check.warn("spec.config", `spec.config ${operatorClusterWarning(asString(config["name"]))}`);
  }
  const brokerClass = check.resource.metadata.annotations?.[BROKER_CLASS_ANNOTATION];
  const classAt = childPath("metadata.annotations", BROKER_CLASS_ANNOTATION);
  const kafkaClass = brokerClass === "Kafka" || brokerClass === "KafkaNamespaced";
  if (
    kafkaClass &&
    !brokerConfigRef(check.resource as BrokerLike, configMapData(check), parseQuietly)
  ) {
    // On Knative this class needs a config (its default comes from config-br-defaults).
    check.warn(
      classAt,
      `a ${brokerClass} Broker without spec.config runs on memory standalone; name a ConfigMap ` +
        "with bootstrap.servers in spec.config to run it on Kafka",
    );
  }
  if (brokerClass !== undefined && !(BROKER_CLASSES as readonly string[]).includes(brokerClass)) {
    check.warn(
      classAt,
      `${quote(brokerClass)} is not a broker class Knative ships (${BROKER_CLASSES.join(", ")}); ` +
        "Eventail serves this Broker itself, on the backing its config picks",
    );
  }
}

/**
 * A Trigger names its Broker by `spec.broker` or (Knative 1.22) `spec.brokerRef`, one of them;
 * a brokerRef to another namespace needs Knative's `cross-namespace-event-links` flag.
 */
export function checkTriggerBroker(check: Check, spec: Fields): void {
  const broker = asString(spec["broker"]);
  const brokerRef = asFields(spec["brokerRef"]);
  if (broker === undefined && spec["brokerRef"] === undefined) {
    check.report("spec.broker", "required field is missing (or set spec.brokerRef)");
    return;
  }
  if (broker !== undefined && spec["brokerRef"] !== undefined) {
    check.report("spec.brokerRef", "set broker or brokerRef, not both");
    return;
  }
  if (broker !== undefined) {
    if (broker) checkTargetExists(check, "Broker", check.namespace, broker, "spec.broker");
    return;
  }
  const name = asString(brokerRef?.["name"]);
  if (!brokerRef || !name) return;
  const kind = asString(brokerRef["kind"]);
  if (kind !== undefined && kind !== "Broker") {
    check.report("spec.brokerRef.kind", `must be Broker (got ${quote(kind)})`);
    return;
  }
  const apiVersion = asString(brokerRef["apiVersion"]);
  if (apiVersion !== undefined) {
    checkServedVersion(check, "Broker", apiVersion, "spec.brokerRef.apiVersion");
  }
  const namespace = asString(brokerRef["namespace"]) || check.namespace;
  if (
    namespace !== check.namespace &&
    !featureEnabled(configMapData(check), "cross-namespace-event-links")
  ) {
    check.report(
      "spec.brokerRef.namespace",
      `a Broker of another namespace (${namespace}) needs cross-namespace-event-links: enabled ` +
        `in ConfigMap ${KNATIVE_NAMESPACE}/${FEATURES_NAME}`,
    );
    return;
  }
  checkTargetExists(check, "Broker", namespace, name, "spec.brokerRef.name");
}
