import { describe, expect, it } from "vitest";
import { CASE_FILE, issuesWith, trigger } from "./validate-harness.js";

/**
 * Knative-shaped manifests (issue 15): what validation accepts as it is, warns about (runs, but
 * not as on a cluster), or refuses, each case added to the valid world on its own.
 */

/**
 * The case's findings as `path: message`, a warning as `path warning: message` (`warning: message`
 * when it is about the whole document).
 */
async function findings(manifest: string): Promise<string[]> {
  const issues = await issuesWith(manifest);
  expect(issues.filter((issue) => issue.file !== CASE_FILE)).toEqual([]);
  return issues.map((issue) => {
    const where = [issue.path, issue.severity === "warning" ? "warning" : ""].filter(Boolean);
    return `${where.join(" ")}: ${issue.message}`;
  });
}

const doc = (apiVersion: string, kind: string, name: string, body: string, meta = "") =>
  `---\napiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: ${name}\n${meta}${body}`;

const configMap = (name: string, data: string, namespace = "default") =>
  doc("v1", "ConfigMap", name, `data:\n${data}`, `  namespace: ${namespace}\n`);

const broker = (config = "", annotations = "") =>
  doc(
    "eventing.knative.dev/v1",
    "Broker",
    "knative",
    config ? `spec:\n  config:\n${config}` : "spec: {}\n",
    annotations ? `  annotations:\n${annotations}` : "",
  );

const configRef = (name: string, namespace = "") =>
  `    apiVersion: v1\n    kind: ConfigMap\n    name: ${name}\n${namespace ? `    namespace: ${namespace}\n` : ""}`;

const template = (apiVersion: string, kind: string, spec = "") =>
  `  channel-template-spec: |\n    apiVersion: ${apiVersion}\n    kind: ${kind}\n${spec}`;

const serviceRef = (apiVersion: string, name: string, extra = "") =>
  `  subscriber:\n    ref:\n      apiVersion: ${apiVersion}\n      kind: Service\n      name: ${name}\n${extra}`;

const sinkBinding = (subject: string) =>
  doc(
    "sources.knative.dev/v1",
    "SinkBinding",
    "bind",
    `spec:\n  subject:\n${subject}  sink:\n    uri: http://127.0.0.1:9/\n`,
  );

const containerSource = (name: string, container: string) =>
  doc(
    "sources.knative.dev/v1",
    "ContainerSource",
    name,
    `spec:\n  sink:\n    uri: http://127.0.0.1:9/\n  template:\n    spec:\n      containers:\n${container}`,
  );

/** The harness's Trigger, as a document of its own (so it can follow others). */
const triggerDoc = (spec: string) => `---\n${trigger(spec)}`;

const brokerRef = (ref: string) =>
  triggerDoc("").replace("  broker: default\n", `  brokerRef:\n${ref}`);

const CROSS_NAMESPACE_ON = configMap(
  "config-features",
  '  cross-namespace-event-links: "enabled"\n',
  "knative-eventing",
);

describe("validate: Knative-shaped manifests accepted as they are", () => {
  it.each([
    [
      "Knative's Kafka broker ConfigMap (no data.backing)",
      configMap(
        "kafka-broker-config",
        '  default.topic.partitions: "10"\n  default.topic.replication.factor: "3"\n  default.topic.config.retention.ms: "604800000"\n  bootstrap.servers: "my-cluster-kafka-bootstrap.kafka:9092"\n',
      ) +
        broker(configRef("kafka-broker-config"), "    eventing.knative.dev/broker.class: Kafka\n"),
    ],
    [
      "Knative's config-br-default-channel (InMemoryChannel) in knative-eventing",
      configMap(
        "config-br-default-channel",
        template("messaging.knative.dev/v1", "InMemoryChannel"),
        "knative-eventing",
      ) +
        broker(
          configRef("config-br-default-channel", "knative-eventing"),
          "    eventing.knative.dev/broker.class: MTChannelBasedBroker\n",
        ),
    ],
    [
      "a channel template naming a KafkaChannel with Knative's spec fields",
      configMap(
        "kafka-channel",
        template(
          "messaging.knative.dev/v1beta1",
          "KafkaChannel",
          "    spec:\n      numPartitions: 3\n      replicationFactor: 1\n      retentionDuration: PT168H\n",
        ),
      ) + broker(configRef("kafka-channel")),
    ],
    [
      "a Broker with no config, given Knative's config-br-defaults",
      configMap(
        "config-br-defaults",
        "  default-br-config: |\n    clusterDefault:\n      brokerClass: MTChannelBasedBroker\n      apiVersion: v1\n      kind: ConfigMap\n      name: config-br-default-channel\n      namespace: knative-eventing\n",
        "knative-eventing",
      ) +
        configMap(
          "config-br-default-channel",
          template("messaging.knative.dev/v1", "InMemoryChannel"),
          "knative-eventing",
        ) +
        broker(),
    ],
    [
      "a declared Service the eventail-services ConfigMap maps, and a Trigger sending to it",
      configMap("eventail-services", "  display: http://127.0.0.1:8081/\n") +
        doc("v1", "Service", "display", "spec:\n  ports:\n    - port: 80\n") +
        triggerDoc(serviceRef("v1", "display")),
    ],
    [
      "a Trigger with brokerRef in its own namespace",
      brokerRef("    apiVersion: eventing.knative.dev/v1\n    kind: Broker\n    name: default\n"),
    ],
    [
      "a Trigger with brokerRef to another namespace, cross-namespace-event-links enabled",
      CROSS_NAMESPACE_ON + brokerRef("    name: orders\n    namespace: shop\n"),
    ],
    [
      "a Service ref mapped by ConfigMap eventail-services, with a relative uri",
      configMap("eventail-services", "  display: http://127.0.0.1:8081/\n") +
        triggerDoc(serviceRef("v1", "display", "    uri: /events\n")),
    ],
    [
      "a SinkBinding whose subject is a ContainerSource",
      containerSource("emitter", "        - command: [node, emit.mjs]\n") +
        sinkBinding(
          "    apiVersion: sources.knative.dev/v1\n    kind: ContainerSource\n    name: emitter\n",
        ),
    ],
    [
      "a PingSource at v1beta2",
      doc(
        "sources.knative.dev/v1beta2",
        "PingSource",
        "ping",
        'spec:\n  schedule: "*/2 * * * *"\n  sink:\n    uri: http://127.0.0.1:9/\n',
      ),
    ],
    [
      "a KafkaSource at v1",
      doc(
        "sources.knative.dev/v1",
        "KafkaSource",
        "kafka",
        "spec:\n  bootstrapServers: [my-cluster-kafka-bootstrap.kafka:9092]\n  topics: [orders]\n  sink:\n    uri: http://127.0.0.1:9/\n",
      ),
    ],
    [
      "a GitLabSource in Knative's group",
      doc(
        "sources.knative.dev/v1alpha1",
        "GitLabSource",
        "gitlab",
        "spec:\n  projectUrl: https://gitlab.com/acme/widgets\n  eventTypes: [push_events]\n  accessToken:\n    secretKeyRef: { name: gitlab, key: accessToken }\n  secretToken:\n    secretKeyRef: { name: gitlab, key: secretToken }\n  sink:\n    uri: http://127.0.0.1:9/\n",
      ),
    ],
    [
      "a KafkaChannel as Knative serves it, v1beta1 with its delivery",
      doc(
        "messaging.knative.dev/v1beta1",
        "KafkaChannel",
        "kc",
        "spec:\n  numPartitions: 3\n  replicationFactor: 1\n  retentionDuration: PT24H\n  delivery:\n    retry: 3\n    backoffPolicy: linear\n    backoffDelay: PT1S\n",
      ),
    ],
    [
      "a NatsJetStreamChannel with eventing-natss's stream and consumer fields, 0 meaning no maximum",
      doc(
        "messaging.knative.dev/v1alpha1",
        "NatsJetStreamChannel",
        "jsm",
        'spec:\n  stream:\n    config:\n      additionalSubjects: [legacy.orders]\n      retention: Work\n      maxMsgs: 0\n      maxBytes: -1\n      maxConsumers: 0\n      maxAge: "0"\n      maxMsgSize: 0\n      noAck: false\n      replicas: 0\n      placement: { cluster: east, tags: [ssd] }\n  consumerConfigTemplate:\n    deliverPolicy: ByStartTime\n    optStartTime: 2026-01-02T03:04:05Z\n    replayPolicy: Instant\n    sampleFrequency: 30%\n    rateLimitBPS: 0\n    maxAckPending: 0\n',
      ),
    ],
    [
      "an EventType at v1beta2",
      doc(
        "eventing.knative.dev/v1beta2",
        "EventType",
        "order-created",
        "spec:\n  type: com.example.order.created\n  source: /orders\n  reference:\n    apiVersion: eventing.knative.dev/v1\n    kind: Broker\n    name: default\n",
      ),
    ],
    [
      "an EventType at v1beta3",
      doc(
        "eventing.knative.dev/v1beta3",
        "EventType",
        "order-created",
        'spec:\n  attributes:\n    - { name: type, value: com.example.order.created, required: true }\n    - { name: source, value: /orders }\n    - { name: specversion, value: "1.0" }\n    - { name: id }\n',
      ),
    ],
  ])("%s", async (_what, manifest) => {
    expect(await findings(manifest)).toEqual([]);
  });
});

describe("validate: Knative-shaped manifests that run, with a warning", () => {
  it.each([
    [
      "a v1 Service nobody maps resolves to its cluster address",
      triggerDoc(serviceRef("v1", "display")),
      "spec.subscriber.ref warning: Service default/display resolves to http://display.default.svc.cluster.local/ (map it with --service default/display=URL or data.display of ConfigMap default/eventail-services)",
    ],
    [
      "a Knative Service in another namespace, mapped in the Trigger's namespace only",
      configMap("eventail-services", "  display: http://127.0.0.1:8081/\n") +
        triggerDoc(serviceRef("serving.knative.dev/v1", "display", "      namespace: shop\n")),
      "spec.subscriber.ref warning: Service shop/display resolves to http://display.shop.svc.cluster.local/ (map it with --service shop/display=URL or data.display of ConfigMap shop/eventail-services)",
    ],
    [
      "a SinkBinding whose subject is a Deployment",
      sinkBinding("    apiVersion: apps/v1\n    kind: Deployment\n    name: emitter\n"),
      "spec.subject warning: not applicable standalone: Eventail runs no apps/v1 Deployment, so nothing gets this binding's K_SINK (standalone, a binding reaches a sources.knative.dev/v1 ContainerSource or sinks.knative.dev/v1alpha1 JobSink)",
    ],
    [
      "a ContainerSource that names only an image",
      containerSource("image-only", "        - image: ghcr.io/acme/heartbeats\n"),
      "spec.template.spec.containers[0].command warning: not run standalone: Eventail cannot run an image, only a command as a local process (set command to run one here)",
    ],
    [
      "a broker class Knative does not ship",
      broker("", "    eventing.knative.dev/broker.class: SomeVendorBroker\n"),
      'metadata.annotations[eventing.knative.dev/broker.class] warning: "SomeVendorBroker" is not a broker class Knative ships (MTChannelBasedBroker, Kafka, KafkaNamespaced, NatsJetStreamBroker, RabbitMQBroker, Eventail); Eventail serves this Broker itself, on the backing its config picks',
    ],
    [
      "a Kafka-class Broker with no config to say where Kafka is",
      broker("", "    eventing.knative.dev/broker.class: Kafka\n"),
      "metadata.annotations[eventing.knative.dev/broker.class] warning: a Kafka Broker without spec.config runs on memory standalone; name a ConfigMap with bootstrap.servers in spec.config to run it on Kafka",
    ],
    [
      "a brokerRef to a Broker not among the manifests (Knative accepts it; the Trigger is not Ready)",
      brokerRef("    name: ghost\n"),
      "spec.brokerRef.name warning: Broker default/ghost is not among the manifests: this Trigger delivers nothing until it is added",
    ],
    [
      "a SinkBinding naming a ContainerSource not among the manifests",
      sinkBinding(
        "    apiVersion: sources.knative.dev/v1\n    kind: ContainerSource\n    name: ghost\n",
      ),
      "spec.subject.name warning: ContainerSource default/ghost is not among the manifests: this SinkBinding binds nothing until it is added",
    ],
    [
      "the v1 Service of a Knative example: inert, saying how to map it",
      doc("v1", "Service", "display", "spec:\n  ports:\n    - port: 80\n"),
      "warning: not run standalone: Eventail runs no workloads; run the program yourself and map the Service with --service default/display=URL or data.display of ConfigMap default/eventail-services (until then refs to it resolve to its cluster address)",
    ],
    [
      "a Knative Service: inert the same way",
      doc(
        "serving.knative.dev/v1",
        "Service",
        "display",
        "spec:\n  template:\n    spec:\n      containers:\n        - image: display\n",
      ),
      "warning: not run standalone: Eventail runs no workloads; run the program yourself and map the Service with --service default/display=URL or data.display of ConfigMap default/eventail-services (until then refs to it resolve to its cluster address)",
    ],
    [
      "the Deployment of a Knative example, whatever its fields",
      doc("apps/v1", "Deployment", "event-display", "spec:\n  replicas: 1\n  selector: {}\n"),
      "warning: not run standalone: Eventail runs no workloads; run the program yourself and map the Service in front of it with --service NAMESPACE/NAME=URL or ConfigMap eventail-services",
    ],
    [
      "a ServiceAccount, with its top-level fields",
      doc("v1", "ServiceAccount", "events-sa", "automountServiceAccountToken: false\n"),
      "warning: ignored standalone: Eventail checks no Kubernetes accounts or roles (ServiceAccount)",
    ],
    [
      "a ClusterRole, whose name Kubernetes allows a colon in",
      doc(
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        "system:event-watcher",
        "rules:\n  - apiGroups: ['']\n    resources: [events]\n    verbs: [get, list, watch]\n",
      ),
      "warning: ignored standalone: Eventail checks no Kubernetes accounts or roles (ClusterRole)",
    ],
    [
      "a Namespace",
      doc("v1", "Namespace", "shop", ""),
      "warning: ignored standalone: a namespace exists as soon as a resource names it",
    ],
    [
      "Knative's Kafka broker config with SASL credentials",
      configMap(
        "kafka-sasl",
        '  bootstrap.servers: "k:9092"\n  auth.secret.ref.name: kafka-sasl\n',
      ) + broker(configRef("kafka-sasl")),
      "data[auth.secret.ref.name] warning: standalone Eventail connects to Kafka without SASL or TLS; the Secret is not used",
    ],
  ])("%s", async (_what, manifest, expected) => {
    expect(await findings(manifest)).toEqual([expected]);
  });
});

describe("validate: Knative-shaped manifests refused, naming the field", () => {
  it.each([
    [
      "a brokerRef to another namespace without the feature flag",
      brokerRef("    name: orders\n    namespace: shop\n"),
      "spec.brokerRef.namespace: a Broker of another namespace (shop) needs cross-namespace-event-links: enabled in ConfigMap knative-eventing/config-features",
    ],
    [
      "a brokerRef to a kind other than Broker",
      brokerRef("    kind: Channel\n    name: default\n"),
      'spec.brokerRef.kind: must be Broker (got "Channel")',
    ],
    [
      "broker and brokerRef together",
      trigger("  brokerRef:\n    name: default\n"),
      "spec.brokerRef: set broker or brokerRef, not both",
    ],
    [
      "neither broker nor brokerRef",
      trigger("").replace("  broker: default\n", ""),
      "spec.broker: required field is missing (or set spec.brokerRef)",
    ],
    [
      "a Service ref with an absolute uri beside it, as Knative refuses",
      triggerDoc(serviceRef("v1", "display", "    uri: http://127.0.0.1:8081/\n")),
      "spec.subscriber.uri: must be relative when ref is set (it is resolved against the ref's address)",
    ],
    [
      "an eventail-services value that is not an absolute URL",
      configMap("eventail-services", "  display: 127.0.0.1:8081\n"),
      'data.display: "127.0.0.1:8081" must be an absolute http(s) URL (the Service\'s address)',
    ],
    [
      "a channel-template-spec that is not YAML",
      configMap("bad-template", '  channel-template-spec: "kind: [unclosed"\n'),
      "data[channel-template-spec]: is not valid YAML",
    ],
    [
      "a channel-template-spec naming a kind that is not a channel",
      configMap("bad-template", template("eventing.knative.dev/v1", "Broker")),
      "data[channel-template-spec].kind: must be a channel kind",
    ],
    [
      "a channel-template-spec whose spec its kind does not declare",
      configMap(
        "bad-template",
        template(
          "messaging.knative.dev/v1beta1",
          "KafkaChannel",
          "    spec:\n      partitions: 3\n",
        ),
      ),
      "data[channel-template-spec].spec.partitions: unknown field",
    ],
    [
      "a SinkBinding subject with both name and selector",
      sinkBinding(
        "    apiVersion: apps/v1\n    kind: Deployment\n    name: a\n    selector:\n      matchLabels: { app: a }\n",
      ),
      "spec.subject: set name or selector, not both",
    ],
    [
      "a SinkBinding subject in another namespace",
      containerSource("emitter", "        - command: [node]\n") +
        sinkBinding(
          "    apiVersion: sources.knative.dev/v1\n    kind: ContainerSource\n    name: emitter\n    namespace: shop\n",
        ),
      'spec.subject.namespace: must be the SinkBinding\'s own namespace "default" (got "shop")',
    ],
    [
      "an EventType v1beta2 without a type",
      doc("eventing.knative.dev/v1beta2", "EventType", "et", "spec:\n  source: /orders\n"),
      "spec.type: required field is missing",
    ],
    [
      "an EventType v1beta3 missing required attributes",
      doc(
        "eventing.knative.dev/v1beta3",
        "EventType",
        "et",
        "spec:\n  attributes:\n    - { name: type }\n    - { name: source }\n",
      ),
      "spec.attributes: must describe the attributes specversion, id",
    ],
    [
      "a NatsJetStreamChannel limit below -1",
      doc(
        "messaging.knative.dev/v1alpha1",
        "NatsJetStreamChannel",
        "jsm",
        "spec:\n  stream:\n    config:\n      maxMsgs: -2\n",
      ),
      "spec.stream.config.maxMsgs: must be >= -1 (got -2)",
    ],
    [
      "a NatsJetStreamChannel start time that is not RFC 3339",
      doc(
        "messaging.knative.dev/v1alpha1",
        "NatsJetStreamChannel",
        "jsm",
        "spec:\n  consumerConfigTemplate:\n    optStartTime: yesterday\n",
      ),
      'spec.consumerConfigTemplate.optStartTime: must be an RFC 3339 time (got "yesterday")',
    ],
  ])("%s", async (_what, manifest, expected) => {
    const found = await findings(manifest);
    expect(found).toEqual([expect.stringContaining(expected)]);
  });
});

describe("validate: kinds outside the contract say what to do standalone", () => {
  it.each([
    [
      "a Knative source Eventail does not run",
      doc("sources.knative.dev/v1alpha1", "AwsSqsSource", "sqs", "spec: {}\n"),
      "kind: unknown kind AwsSqsSource in sources.knative.dev/v1alpha1: Eventail cannot run this source standalone; run it on a Knative cluster, or replace it with a ContainerSource whose command posts events to $K_SINK",
    ],
    [
      "a workload other than a Deployment",
      doc("apps/v1", "StatefulSet", "event-display", "spec: {}\n"),
      "kind: unknown kind StatefulSet in apps/v1: Eventail does not run workloads standalone; run the program yourself, leave this manifest out of -f, and point refs to its Service at it with --service NAMESPACE/NAME=URL or ConfigMap eventail-services",
    ],
  ])("%s", async (_what, manifest, expected) => {
    expect(await findings(manifest)).toEqual([expect.stringContaining(expected)]);
  });
});

describe("validate: Knative's RabbitMQ shapes run on the rabbitmq backing", () => {
  const rabbitConfig = (spec: string, meta = "") =>
    doc("eventing.knative.dev/v1alpha1", "RabbitmqBrokerConfig", "rabbit", `spec:\n${spec}`, meta);
  const rabbitBroker = broker(
    "    apiVersion: eventing.knative.dev/v1alpha1\n    kind: RabbitmqBrokerConfig\n    name: rabbit\n",
    "    eventing.knative.dev/broker.class: RabbitMQBroker\n",
  );
  it.each([
    [
      "an operator's RabbitmqCluster by name: a warning naming the field and the way out",
      rabbitBroker + rabbitConfig("  rabbitmqClusterReference:\n    name: rabbitmq\n"),
      [
        'spec.rabbitmqClusterReference.name warning: names RabbitmqCluster "rabbitmq", which standalone Eventail cannot look up (there is no RabbitMQ operator): it connects to RABBITMQ_URL, else amqp://guest:guest@127.0.0.1:5672; give the address with rabbitmqClusterReference.connectionSecret (a Secret with key uri) or the annotation eventail.io/rabbitmq-url',
      ],
    ],
    [
      "a URL in the annotation: no warning",
      rabbitBroker +
        rabbitConfig(
          "  rabbitmqClusterReference:\n    name: rabbitmq\n  queueType: classic\n",
          "  annotations:\n    eventail.io/rabbitmq-url: amqp://guest:guest@127.0.0.1:5672\n",
        ),
      [],
    ],
    [
      "a connection Secret with a uri: no warning",
      rabbitBroker +
        rabbitConfig("  rabbitmqClusterReference:\n    connectionSecret:\n      name: creds\n") +
        doc(
          "v1",
          "Secret",
          "creds",
          "stringData:\n  uri: amqp://127.0.0.1:5672\n  username: u\n  password: p\n",
        ),
      [],
    ],
    [
      "a connection Secret without a usable uri: refused at the field",
      rabbitBroker +
        rabbitConfig("  rabbitmqClusterReference:\n    connectionSecret:\n      name: creds\n") +
        doc("v1", "Secret", "creds", "stringData:\n  uri: ftp://nowhere\n"),
      [
        "spec.config: RabbitmqBrokerConfig default/rabbit spec.rabbitmqClusterReference.connectionSecret.name: Secret default/creds has no key uri holding an amqp:// or amqps:// URL (or a host with port, username and password)",
        "spec.rabbitmqClusterReference.connectionSecret.name: Secret default/creds has no key uri holding an amqp:// or amqps:// URL (or a host with port, username and password)",
      ],
    ],
    [
      "a Broker naming an operator's RabbitmqCluster directly",
      broker("    apiVersion: rabbitmq.com/v1beta1\n    kind: RabbitmqCluster\n    name: rabbit\n"),
      [
        'spec.config warning: spec.config names RabbitmqCluster "rabbit", which standalone Eventail cannot look up (there is no RabbitMQ operator): it connects to RABBITMQ_URL, else amqp://guest:guest@127.0.0.1:5672; give the address with rabbitmqClusterReference.connectionSecret (a Secret with key uri) or the annotation eventail.io/rabbitmq-url',
      ],
    ],
  ])("%s", async (_what, manifest, expected) => {
    expect((await findings(manifest)).sort()).toEqual([...expected].sort());
  });
});

describe("validate: inert documents are never duplicates", () => {
  it("a Namespace declared twice is two warnings, no duplicate error (kubectl apply takes both)", async () => {
    const namespace = doc("v1", "Namespace", "shop", "");
    expect(await findings(namespace + namespace)).toEqual([
      "warning: ignored standalone: a namespace exists as soon as a resource names it",
      "warning: ignored standalone: a namespace exists as soon as a resource names it",
    ]);
  });
});
