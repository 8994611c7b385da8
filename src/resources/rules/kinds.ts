/**
 * Each kind's semantic rules (what a schema cannot say), by kind name. A new kind adds a row
 * here only when it has rules beyond its CRD's schema.
 */
import { DEFAULT_BACKING } from "../defaults.js";
import { childPath } from "../issue.js";
import { checkChannelRef, checkChannelSpec, checkChannelTemplate } from "./channels.js";
import { asFields, asString, type Check, type Fields, quote, type ResourceRule } from "./check.js";
import { checkDelivery } from "./delivery.js";
import { checkDestination, checkTargetExists } from "./destination.js";
import { checkEventPolicy } from "./event-policy.js";
import { checkAttributesFilter, checkFilters } from "./filters.js";
import { checkPingSource } from "./sources.js";

const BACKINGS = ["memory", "redis", "nats", "kafka"] as const;

export const KIND_RULES: Readonly<Record<string, ResourceRule>> = {
  Broker: checkBroker,
  Trigger: (check, spec) => {
    const broker = asString(spec["broker"]);
    if (broker) checkTargetExists(check, "Broker", check.namespace, broker, "spec.broker");
    checkAttributesFilter(check, spec["filter"], "spec.filter");
    checkFilters(check, spec["filters"], "spec.filters");
    checkDestination(check, spec["subscriber"], "spec.subscriber");
    checkDelivery(check, spec["delivery"], "spec.delivery");
  },
  PingSource: checkPingSource,
  IntegrationSink: (check, spec) => {
    if (spec["aws"] !== undefined) {
      check.report("spec.aws", "AWS integrations are not run by Eventail; use spec.log");
    } else if (spec["log"] === undefined) {
      check.report("spec.log", "required field is missing (log is the integration Eventail runs)");
    }
  },
  Channel: (check, spec) => {
    checkChannelTemplate(check, spec["channelTemplate"], "spec.channelTemplate");
    checkDelivery(check, spec["delivery"], "spec.delivery");
  },
  InMemoryChannel: (check, spec) => checkChannelSpec(check, "InMemoryChannel", spec, "spec"),
  KafkaChannel: (check, spec) => checkChannelSpec(check, "KafkaChannel", spec, "spec"),
  NatsJetStreamChannel: (check, spec) =>
    checkChannelSpec(check, "NatsJetStreamChannel", spec, "spec"),
  RedisStreamChannel: (check, spec) => checkChannelSpec(check, "RedisStreamChannel", spec, "spec"),
  Subscription: (check, spec) => {
    checkChannelRef(check, spec["channel"], "spec.channel");
    if (spec["subscriber"] === undefined && spec["reply"] === undefined) {
      check.report(
        "spec.subscriber",
        "required when reply is not set (a Subscription needs one of them)",
      );
    }
    checkDestination(check, spec["subscriber"], "spec.subscriber");
    checkDestination(check, spec["reply"], "spec.reply");
    checkDelivery(check, spec["delivery"], "spec.delivery");
  },
  Sequence: (check, spec) => {
    eachItem(spec["steps"], "spec.steps", (step, at) => {
      checkDestination(check, step, at);
      checkDelivery(check, step["delivery"], childPath(at, "delivery"));
    });
    checkChannelTemplate(check, spec["channelTemplate"], "spec.channelTemplate");
    checkDestination(check, spec["reply"], "spec.reply");
  },
  Parallel: (check, spec) => {
    eachItem(spec["branches"], "spec.branches", (branch, at) => {
      for (const field of ["filter", "subscriber", "reply"]) {
        checkDestination(check, branch[field], childPath(at, field));
      }
      checkDelivery(check, branch["delivery"], childPath(at, "delivery"));
    });
    checkChannelTemplate(check, spec["channelTemplate"], "spec.channelTemplate");
    checkDestination(check, spec["reply"], "spec.reply");
  },
  EventPolicy: checkEventPolicy,
};

/** spec.config names a v1 ConfigMap that exists and whose data.backing Eventail can run. */
function checkBroker(check: Check, spec: Fields): void {
  checkDelivery(check, spec["delivery"], "spec.delivery");
  const config = asFields(spec["config"]);
  const kind = asString(config?.["kind"]);
  const name = asString(config?.["name"]);
  if (!config || !kind || !name) return;
  if (kind !== "ConfigMap" || config["apiVersion"] !== "v1") {
    check.report(
      "spec.config",
      `must reference a v1 ConfigMap (got ${config["apiVersion"]} ${kind})`,
    );
    return;
  }
  const namespace = asString(config["namespace"]) || check.namespace;
  const configMap = check.find("ConfigMap", namespace, name);
  if (!configMap) {
    check.report("spec.config.name", `ConfigMap ${namespace}/${name} not found`);
    return;
  }
  const backing = configMap.data?.["backing"];
  if (backing === undefined) {
    check.report(
      "spec.config",
      `ConfigMap ${namespace}/${name} has no data.backing (one of ${BACKINGS.join(", ")}; ` +
        `a Broker without spec.config uses ${DEFAULT_BACKING})`,
    );
  } else if (!(BACKINGS as readonly string[]).includes(backing)) {
    check.report(
      "spec.config",
      `ConfigMap ${namespace}/${name} sets data.backing to ${quote(String(backing))}; expected one of ${BACKINGS.join(", ")}`,
    );
  }
}

function eachItem(value: unknown, at: string, fn: (item: Fields, at: string) => void): void {
  if (!Array.isArray(value)) return;
  value.forEach((item, index) => {
    const fields = asFields(item);
    if (fields) fn(fields, childPath(at, index));
  });
}
