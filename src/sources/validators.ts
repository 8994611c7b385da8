import { validate as apiServerSource } from "./apiserver/validate.js";
import { validate as containerSource } from "./container/validate.js";
import { validate as gitHubSource } from "./github/validate.js";
import { validate as gitLabSource } from "./gitlab/validate.js";
import { validate as kafkaSource } from "./kafka/validate.js";
import { validate as messageQueueTrigger } from "./mq-trigger/validate.js";
import type { SourceValidator } from "./validation.js";

export type { SourceProblem, SourceValidator } from "./validation.js";

/**
 * Each source kind's semantic rules (what its CRD schema cannot say), by kind. Every validator
 * returns all the problems it finds with their field paths. Destinations (`spec.sink`,
 * `spec.subscriber`), `spec.delivery`, and the duck SourceSpec checks of sources.knative.dev
 * kinds are left to the shared resource rules (src/resources/rules/), which see every resource.
 */
export const SOURCE_VALIDATORS: Readonly<Record<string, SourceValidator>> = {
  GitHubSource: gitHubSource,
  GitLabSource: gitLabSource,
  KafkaSource: kafkaSource,
  ApiServerSource: apiServerSource,
  ContainerSource: containerSource,
  MessageQueueTrigger: messageQueueTrigger,
};
