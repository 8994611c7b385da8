/**
 * What `eventail controller` watches (CONTRACT §13). Brokers are served only with the class
 * annotation `Eventail`, and Triggers only when their Broker is; Eventail's own kinds (which no
 * Knative controller knows) always; the other Knative kinds only with --serve-knative-kinds, for
 * a cluster where Knative Eventing's controllers do not run. ConfigMaps and Secrets are read as
 * the runtime's configuration (broker defaults, features, credentials, the signing key); Knative
 * Services only for their `status.address.url`.
 */
export interface WatchedKind {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  /** `class`: Brokers and Triggers, served by class; `eventail`, `knative`: served; `input`: read only. */
  readonly role: "class" | "eventail" | "knative" | "input";
}

const kind = (
  apiVersion: string,
  kindName: string,
  plural: string,
  role: WatchedKind["role"],
): WatchedKind => ({ apiVersion, kind: kindName, plural, role });

export const BROKER_KINDS: readonly WatchedKind[] = [
  kind("eventing.knative.dev/v1", "Broker", "brokers", "class"),
  kind("eventing.knative.dev/v1", "Trigger", "triggers", "class"),
];

/** Eventail's own kinds: no Knative controller reconciles them. */
export const EVENTAIL_KINDS: readonly WatchedKind[] = [
  kind("eventail.io/v1alpha1", "GitLabSource", "gitlabsources", "eventail"),
  kind("eventail.io/v1alpha1", "MessageQueueTrigger", "messagequeuetriggers", "eventail"),
  kind("eventail.io/v1alpha1", "RedisStreamChannel", "redisstreamchannels", "eventail"),
  kind("sinks.knative.dev/v1alpha1", "RedisStreamSink", "redisstreamsinks", "eventail"),
  kind("sources.knative.dev/v1alpha1", "RedisStreamSource", "redisstreamsources", "eventail"),
];

/** The other kinds of CONTRACT §2, served with --serve-knative-kinds. */
export const KNATIVE_KINDS: readonly WatchedKind[] = [
  kind("sources.knative.dev/v1", "ApiServerSource", "apiserversources", "knative"),
  kind("messaging.knative.dev/v1", "Channel", "channels", "knative"),
  kind("sources.knative.dev/v1", "ContainerSource", "containersources", "knative"),
  kind("eventing.knative.dev/v1alpha1", "EventPolicy", "eventpolicies", "knative"),
  kind("eventing.knative.dev/v1alpha1", "EventTransform", "eventtransforms", "knative"),
  kind("eventing.knative.dev/v1beta2", "EventType", "eventtypes", "knative"),
  kind("sources.knative.dev/v1alpha1", "GitHubSource", "githubsources", "knative"),
  kind("sources.knative.dev/v1alpha1", "GitLabSource", "gitlabsources", "knative"),
  kind("messaging.knative.dev/v1", "InMemoryChannel", "inmemorychannels", "knative"),
  kind("sinks.knative.dev/v1alpha1", "IntegrationSink", "integrationsinks", "knative"),
  kind("sources.knative.dev/v1alpha1", "IntegrationSource", "integrationsources", "knative"),
  kind("sinks.knative.dev/v1alpha1", "JobSink", "jobsinks", "knative"),
  kind("messaging.knative.dev/v1beta1", "KafkaChannel", "kafkachannels", "knative"),
  kind("eventing.knative.dev/v1alpha1", "KafkaSink", "kafkasinks", "knative"),
  kind("sources.knative.dev/v1beta1", "KafkaSource", "kafkasources", "knative"),
  kind(
    "messaging.knative.dev/v1alpha1",
    "NatsJetStreamChannel",
    "natsjetstreamchannels",
    "knative",
  ),
  kind("flows.knative.dev/v1", "Parallel", "parallels", "knative"),
  kind("sources.knative.dev/v1", "PingSource", "pingsources", "knative"),
  kind("eventing.knative.dev/v1alpha1", "RequestReply", "requestreplies", "knative"),
  kind("flows.knative.dev/v1", "Sequence", "sequences", "knative"),
  kind("sources.knative.dev/v1", "SinkBinding", "sinkbindings", "knative"),
  kind("messaging.knative.dev/v1", "Subscription", "subscriptions", "knative"),
];

export const INPUT_KINDS: readonly WatchedKind[] = [
  kind("v1", "ConfigMap", "configmaps", "input"),
  kind("v1", "Secret", "secrets", "input"),
];

export const KNATIVE_SERVICE: WatchedKind = kind(
  "serving.knative.dev/v1",
  "Service",
  "services",
  "input",
);

export const LEASE = { apiVersion: "coordination.k8s.io/v1", plural: "leases" } as const;

export function watchedKinds(serveKnativeKinds: boolean): WatchedKind[] {
  return [
    ...INPUT_KINDS,
    ...BROKER_KINDS,
    ...EVENTAIL_KINDS,
    ...(serveKnativeKinds ? KNATIVE_KINDS : []),
  ];
}
