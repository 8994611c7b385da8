import type { Resource } from "../resources/types.js";
import type { ApiServerSourceSpec } from "./apiserver/apiserver-source.js";
import type { ContainerSourceSpec } from "./container/container-source.js";
import type { GitHubSourceSpec } from "./github/github-source.js";
import type { GitLabSourceSpec } from "./gitlab/gitlab-source.js";
import type { IntegrationSourceSpec } from "./integration/integration-source.js";
import type { KafkaSourceSpec } from "./kafka/kafka-source.js";
import type { KeyType } from "./kafka/record-event.js";
import type { MessageQueueTriggerSpec } from "./mq-trigger/mq-trigger.js";
import type { MqttSourceSpec } from "./mqtt/mqtt-source.js";
import type { PingSourceSpec } from "./ping/ping-source.js";
import type { RabbitmqSourceSpec } from "./rabbitmq/rabbitmq-source.js";
import type { RedisStreamSourceSpec } from "./redis-stream/redis-stream-source.js";
import type { RunnableSource, SourceContext, SourceKind } from "./registry.js";

/*
 * Each kind's code (and its client library: @kubernetes/client-node, kafkajs, nats, ioredis) is
 * imported when a manifest first uses that kind, not at start-up: a broker with a few triggers
 * should not carry a Kubernetes client it never calls.
 */

const pingSource: SourceKind = {
  kind: "PingSource",
  selfEmitting: true,
  create: async (resource, context) => {
    const { PingSource } = await import("./ping/ping-source.js");
    return new PingSource(
      context.namespace,
      context.name,
      resource.spec as PingSourceSpec,
      context.logger,
    );
  },
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
  create: async (resource, context) => {
    const { GitHubSource } = await import("./github/github-source.js");
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
  create: async (resource, context) => {
    const { GitLabSource } = await import("./gitlab/gitlab-source.js");
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
  create: async (resource, context) => {
    const { KafkaSource, KEY_TYPE_ANNOTATION } = await import("./kafka/kafka-source.js");
    const { kafkaNetSecurity } = await import("./kafka/net.js");
    const spec = resource.spec as KafkaSourceSpec;
    const { namespace } = context;
    return new KafkaSource(
      namespace,
      context.name,
      spec,
      (resource.metadata.annotations?.[KEY_TYPE_ANNOTATION] ?? "string") as KeyType,
      context.logger,
      {},
      kafkaNetSecurity(spec.net, namespace, (name) => context.secret(namespace, name)),
    );
  },
};

const apiServerSource: SourceKind = {
  kind: "ApiServerSource",
  selfEmitting: true,
  create: async (resource, context) => {
    const { ApiServerSource } = await import("./apiserver/apiserver-source.js");
    return new ApiServerSource(
      context.namespace,
      context.name,
      resource.spec as ApiServerSourceSpec,
      resource.metadata.annotations ?? {},
      context.logger,
    );
  },
};

const containerSource: SourceKind = {
  kind: "ContainerSource",
  selfEmitting: true,
  create: async (resource: Resource, context) => {
    const [{ containerProcess }, { ContainerSource }] = await Promise.all([
      import("./container/container-process.js"),
      import("./container/container-source.js"),
    ]);
    const spec = resource.spec as ContainerSourceSpec;
    const container = spec.template.spec.containers[0];
    if (!container?.command?.[0]?.trim()) return imageOnly(context, container?.image);
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

/** A ContainerSource naming only an image (validation warned): it runs nothing, and says so. */
function imageOnly(context: SourceContext, image: string | undefined): RunnableSource {
  return {
    start: async () => {
      context.logger.warn(
        { image },
        "ContainerSource not run: standalone Eventail cannot run an image, only a command as a " +
          "local process (set template.spec.containers[0].command)",
      );
    },
    stop: async () => undefined,
  };
}

const messageQueueTrigger: SourceKind = {
  kind: "MessageQueueTrigger",
  // An MQTT queue's client id and persistent session are the trigger's: one replica holds them.
  selfEmitting: (resource) =>
    (resource.spec as Partial<MessageQueueTriggerSpec> | undefined)?.messageQueueType === "mqtt",
  create: async (resource, context) => {
    const [{ MessageQueueTrigger }, { createMessageQueue }] = await Promise.all([
      import("./mq-trigger/mq-trigger.js"),
      import("./mq-trigger/queues.js"),
    ]);
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
      logger: context.logger,
    });
  },
};

const redisStreamSource: SourceKind = {
  kind: "RedisStreamSource",
  create: async (resource, context) => {
    const { RedisStreamSource } = await import("./redis-stream/redis-stream-source.js");
    return new RedisStreamSource(
      context.namespace,
      context.name,
      resource.spec as RedisStreamSourceSpec,
      (name, key) => context.secretValue(context.namespace, name, key),
      context.logger,
    );
  },
};

const integrationSource: SourceKind = {
  kind: "IntegrationSource",
  selfEmitting: true,
  create: async (resource, context) => {
    const { IntegrationSource } = await import("./integration/integration-source.js");
    return new IntegrationSource(
      context.namespace,
      context.name,
      resource.spec as IntegrationSourceSpec,
      context.logger,
    );
  },
};

const rabbitmqSource: SourceKind = {
  kind: "RabbitmqSource",
  create: async (resource, context) => {
    const { RabbitmqSource, rabbitmqSourceUrl } = await import("./rabbitmq/rabbitmq-source.js");
    const spec = resource.spec as RabbitmqSourceSpec;
    const url = rabbitmqSourceUrl(
      spec,
      resource.metadata.annotations,
      context.namespace,
      (ns, name) => context.secret(ns, name),
    );
    return new RabbitmqSource(context.namespace, context.name, spec, url, context.logger);
  },
};

const mqttSource: SourceKind = {
  kind: "MqttSource",
  selfEmitting: true,
  create: async (resource, context) => {
    const { MqttSource } = await import("./mqtt/mqtt-source.js");
    const spec = resource.spec as MqttSourceSpec;
    const password = spec.password ? tokenOf(context, spec.password) : undefined;
    return new MqttSource(context.namespace, context.name, spec, password, context.logger);
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
  redisStreamSource,
  integrationSource,
  rabbitmqSource,
  mqttSource,
];
