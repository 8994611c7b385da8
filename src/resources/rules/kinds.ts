/**
 * Each kind's semantic rules (what a schema cannot say), by kind name. A new kind adds a row
 * here only when it has rules beyond its CRD's schema.
 */
import { childPath } from "../issue.js";
import { checkBroker, checkTriggerBroker } from "./broker.js";
import { checkChannelRef, checkChannelSpec, checkChannelTemplate } from "./channels.js";
import { asFields, type Fields, type ResourceRule } from "./check.js";
import { checkDelivery } from "./delivery.js";
import { checkDestination } from "./destination.js";
import { checkEventPolicy } from "./event-policy.js";
import { checkEventTransform } from "./event-transform.js";
import { checkEventType } from "./event-type.js";
import { checkAttributesFilter, checkFilters } from "./filters.js";
import { checkRabbitmqBrokerConfig, checkRabbitmqSource } from "./rabbitmq.js";
import { checkRequestReply } from "./request-reply.js";
import { checkSinkBinding } from "./sink-binding.js";
import { checkPingSource } from "./sources.js";

export const KIND_RULES: Readonly<Record<string, ResourceRule>> = {
  Broker: checkBroker,
  Trigger: (check, spec) => {
    checkTriggerBroker(check, spec);
    checkAttributesFilter(check, spec["filter"], "spec.filter");
    checkFilters(check, spec["filters"], "spec.filters");
    checkDestination(check, spec["subscriber"], "spec.subscriber");
    checkDelivery(check, spec["delivery"], "spec.delivery");
  },
  PingSource: checkPingSource,
  IntegrationSink: (check, spec) => {
    if (spec["aws"] !== undefined) {
      check.report(
        "spec.aws",
        "AWS integrations are not run standalone (events sent here would be lost); use spec.log " +
          "to print each event, or run the AWS sink on a Knative cluster and point a uri at it",
      );
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
  SinkBinding: checkSinkBinding,
  EventType: checkEventType,
  EventTransform: checkEventTransform,
  RequestReply: checkRequestReply,
  EventPolicy: checkEventPolicy,
  RabbitmqBrokerConfig: checkRabbitmqBrokerConfig,
  RabbitmqSource: checkRabbitmqSource,
};

function eachItem(value: unknown, at: string, fn: (item: Fields, at: string) => void): void {
  if (!Array.isArray(value)) return;
  value.forEach((item, index) => {
    const fields = asFields(item);
    if (fields) fn(fields, childPath(at, index));
  });
}
