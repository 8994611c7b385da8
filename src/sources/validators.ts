import type { ResourceRule } from "../resources/rules/check.js";
import { validate as apiServerSource } from "./apiserver/validate.js";
import { validate as containerSource } from "./container/validate.js";
import { validate as gitHubSource } from "./github/validate.js";
import { validate as gitLabSource } from "./gitlab/validate.js";
import { validate as integrationSource } from "./integration/validate.js";
import { validate as kafkaSource } from "./kafka/validate.js";
import { validate as messageQueueTrigger } from "./mq-trigger/validate.js";
import { validate as redisStreamSource } from "./redis-stream/validate.js";

/**
 * Each source kind's semantic rules (what its CRD schema cannot say), by kind, in the resource
 * model's rule shape: every rule reports all the problems it finds with their field paths.
 * Destinations (`spec.sink`, `spec.subscriber`), `spec.delivery`, and the duck SourceSpec checks
 * of sources.knative.dev kinds are left to the shared resource rules (src/resources/rules/),
 * which see every resource.
 */
export const SOURCE_VALIDATORS: Readonly<Record<string, ResourceRule>> = {
  GitHubSource: gitHubSource,
  GitLabSource: gitLabSource,
  KafkaSource: kafkaSource,
  ApiServerSource: apiServerSource,
  ContainerSource: containerSource,
  MessageQueueTrigger: messageQueueTrigger,
  RedisStreamSource: redisStreamSource,
  IntegrationSource: integrationSource,
};
