import type { Resource } from "../resources/types.js";
import { ApiServerSource, type ApiServerSourceSpec } from "./apiserver/apiserver-source.js";
import { containerProcess } from "./container/container-process.js";
import { ContainerSource, type ContainerSourceSpec } from "./container/container-source.js";
import { GitHubSource, type GitHubSourceSpec } from "./github/github-source.js";
import { GitLabSource, type GitLabSourceSpec } from "./gitlab/gitlab-source.js";
import { KafkaSource, type KafkaSourceSpec, KEY_TYPE_ANNOTATION } from "./kafka/kafka-source.js";
import type { KeyType } from "./kafka/record-event.js";
import { MessageQueueTrigger, type MessageQueueTriggerSpec } from "./mq-trigger/mq-trigger.js";
import { createMessageQueue } from "./mq-trigger/queues.js";
import { PingSource, type PingSourceSpec } from "./ping/ping-source.js";
import type { SourceContext, SourceKind } from "./registry.js";

const pingSource: SourceKind = {
  kind: "PingSource",
  create: (resource, context) =>
    new PingSource(
      context.namespace,
      context.name,
      resource.spec as PingSourceSpec,
      context.logger,
    ),
};

/** A `{secretKeyRef: {name, key}}` token of this resource's namespace. */
function tokenOf(
  context: SourceContext,
  holder: { secretKeyRef: { name: string; key: string } },
): string | undefined {
  const { name, key } = holder.secretKeyRef;
  return context.secretValue(context.namespace, name, key);
}

const gitHubSource: SourceKind = {
  kind: "GitHubSource",
  create: (resource, context) => {
    const spec = resource.spec as GitHubSourceSpec;
    return new GitHubSource(
      context.namespace,
      context.name,
      spec,
      tokenOf(context, spec.secretToken),
      context.logger,
    );
  },
};

const gitLabSource: SourceKind = {
  kind: "GitLabSource",
  create: (resource, context) => {
    const spec = resource.spec as GitLabSourceSpec;
    return new GitLabSource(
      context.namespace,
      context.name,
      spec,
      tokenOf(context, spec.secretToken),
      context.logger,
    );
  },
};

const kafkaSource: SourceKind = {
  kind: "KafkaSource",
  create: (resource, context) =>
    new KafkaSource(
      context.namespace,
      context.name,
      resource.spec as KafkaSourceSpec,
      (resource.metadata.annotations?.[KEY_TYPE_ANNOTATION] ?? "string") as KeyType,
      context.logger,
    ),
};

const apiServerSource: SourceKind = {
  kind: "ApiServerSource",
  create: (resource, context) =>
    new ApiServerSource(
      context.namespace,
      context.name,
      resource.spec as ApiServerSourceSpec,
      resource.metadata.annotations ?? {},
      context.logger,
    ),
};

const containerSource: SourceKind = {
  kind: "ContainerSource",
  create: (resource: Resource, context) => {
    const spec = resource.spec as ContainerSourceSpec;
    const grace = spec.template.spec.terminationGracePeriodSeconds;
    return new ContainerSource(
      context.namespace,
      context.name,
      containerProcess(spec, resource.origin.file, context.sinkUrl, (name, key) =>
        context.secretValue(context.namespace, name, key),
      ),
      context.logger,
      grace === undefined ? {} : { graceMs: grace * 1000 },
    );
  },
};

const messageQueueTrigger: SourceKind = {
  kind: "MessageQueueTrigger",
  create: (resource, context) => {
    const spec = resource.spec as MessageQueueTriggerSpec & {
      subscriber: unknown;
      delivery?: unknown;
    };
    return new MessageQueueTrigger({
      namespace: context.namespace,
      name: context.name,
      spec,
      queue: createMessageQueue(
        {
          namespace: context.namespace,
          name: context.name,
          type: spec.messageQueueType,
          topic: spec.topic,
          ...(spec.metadata ? { metadata: spec.metadata } : {}),
        },
        context.logger,
      ),
      dispatcher: context.dispatcher,
      subscriberUrl: context.resolveDestination(spec.subscriber),
      delivery: context.resolveDelivery(spec.delivery),
      metrics: context.metrics,
      logger: context.logger,
    });
  },
};

/** Every source kind the reconciler runs. */
export const SOURCE_KINDS: readonly SourceKind[] = [
  pingSource,
  gitHubSource,
  gitLabSource,
  kafkaSource,
  apiServerSource,
  containerSource,
  messageQueueTrigger,
];
