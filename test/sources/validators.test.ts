import { describe, expect, it } from "vitest";
import { parseManifests } from "../../src/resources/loader.js";
import { validateResources } from "../../src/resources/validate.js";
import { SOURCE_VALIDATORS } from "../../src/sources/validators.js";

/** Validates one manifest the way `eventail validate` does, with the source kinds' rules. */
function issuesOf(yaml: string): string[] {
  const { resources, issues } = parseManifests(yaml, "sources.yaml");
  expect(issues).toEqual([]);
  return validateResources(resources, { rules: SOURCE_VALIDATORS }).map(
    (issue) => `${issue.path}${issue.severity === "warning" ? " warning" : ""}: ${issue.message}`,
  );
}

const github = (spec: string, annotations = "") => `apiVersion: sources.knative.dev/v1alpha1
kind: GitHubSource
metadata:
  name: repo
${annotations}spec:
  ownerAndRepository: acme/widgets
  secretToken:
    secretKeyRef: { name: github, key: secretToken }
  sink:
    uri: http://127.0.0.1:9000/
${spec}`;

const gitlab = (spec: string) => `apiVersion: eventail.io/v1alpha1
kind: GitLabSource
metadata:
  name: project
spec:
  secretToken:
    secretKeyRef: { name: gitlab, key: token }
  sink:
    uri: http://127.0.0.1:9000/
${spec}`;

const kafka = (spec: string, annotations = "") => `apiVersion: sources.knative.dev/v1beta1
kind: KafkaSource
metadata:
  name: orders
${annotations}spec:
  sink:
    uri: http://127.0.0.1:9000/
${spec}`;

const apiserver = (spec: string, annotations = "") => `apiVersion: sources.knative.dev/v1
kind: ApiServerSource
metadata:
  name: pods
${annotations}spec:
  sink:
    uri: http://127.0.0.1:9000/
${spec}`;

const container = (containerYaml: string) => `apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata:
  name: heartbeat
spec:
  sink:
    uri: http://127.0.0.1:9000/
  template:
    spec:
      containers:
${containerYaml}`;

const mqt = (spec: string) => `apiVersion: eventail.io/v1alpha1
kind: MessageQueueTrigger
metadata:
  name: orders
spec:
  subscriber:
    uri: http://127.0.0.1:9000/
${spec}`;

describe("source manifests", () => {
  it.each<[string, string]>([
    ["a GitHubSource with event types", github("  eventTypes: [push, pull_request]\n")],
    ["an organization-wide GitHubSource", github("").replace("acme/widgets", "acme")],
    [
      "a GitLabSource",
      gitlab(
        "  projectUrl: https://gitlab.com/acme/app\n  eventTypes: [push_events, merge_requests_events]\n",
      ),
    ],
    [
      "a KafkaSource with a comma-separated broker list and a key type",
      kafka(
        '  bootstrapServers: ["k1:9092,k2:9092"]\n  topics: [orders, refunds]\n  consumerGroup: billing\n  initialOffset: earliest\n  ordering: unordered\n',
        "  annotations:\n    kafkasources.sources.knative.dev/key-type: int\n",
      ),
    ],
    [
      "an ApiServerSource with selectors",
      apiserver(
        "  mode: Resource\n  resources:\n    - apiVersion: v1\n      kind: Pod\n      selector:\n        matchLabels: { app: web }\n        matchExpressions:\n          - { key: tier, operator: In, values: [front] }\n    - apiVersion: apps/v1\n      kind: Deployment\n  namespaceSelector:\n    matchLabels: { team: a }\n",
        "  annotations:\n    eventail.io/apiserver-url: http://127.0.0.1:8001\n",
      ),
    ],
    [
      "a ContainerSource with extra pod fields Eventail ignores",
      container(
        "        - name: emitter\n          image: ghcr.io/acme/emitter\n          imagePullPolicy: Always\n          command: [node, emit.mjs]\n          args: [--every, 5s]\n          env:\n            - { name: MODE, value: demo }\n            - name: TOKEN\n              valueFrom:\n                secretKeyRef: { name: creds, key: token }\n",
      ),
    ],
    [
      "a MessageQueueTrigger on Kafka",
      mqt(
        "  messageQueueType: kafka\n  topic: orders\n  respTopic: orders-done\n  errorTopic: orders-failed\n  maxRetries: 3\n  contentType: application/json\n  metadata:\n    bootstrapServers: localhost:9092\n    consumerGroup: billing\n  delivery:\n    backoffDelay: PT0.5S\n",
      ),
    ],
    [
      "a MessageQueueTrigger on NATS",
      mqt("  messageQueueType: nats\n  topic: orders.created\n  respTopic: orders.done\n"),
    ],
    [
      "a MessageQueueTrigger on Redis",
      mqt("  messageQueueType: redis\n  topic: orders\n  metadata: { address: localhost:6379 }\n"),
    ],
  ])("%s is valid", (_name, yaml) => {
    expect(issuesOf(yaml)).toEqual([]);
  });

  it.each<[string, string, string[]]>([
    [
      "GitHubSource: ownerAndRepository with two slashes",
      github("").replace("acme/widgets", "acme/widgets/extra"),
      ['spec.ownerAndRepository: "acme/widgets/extra" must be "owner" or "owner/repository"'],
    ],
    [
      "GitHubSource: an event type that is no webhook name, and a duplicate",
      github("  eventTypes: [Push, push, push]\n"),
      [
        'spec.eventTypes[0]: "Push" is not a GitHub webhook event name (like push or pull_request)',
        'spec.eventTypes[2]: duplicate event type "push"',
      ],
    ],
    [
      "GitHubSource: no secretToken",
      github("").replace(
        "  secretToken:\n    secretKeyRef: { name: github, key: secretToken }\n",
        "",
      ),
      ["spec.secretToken: required field is missing"],
    ],
    [
      "GitHubSource: a secret key Kubernetes would refuse",
      github("").replace("key: secretToken", "key: secret/token"),
      [
        "spec.secretToken.secretKeyRef.key: invalid key \"secret/token\": letters, digits, '-', '_' and '.' only",
      ],
    ],
    [
      "GitLabSource: a relative project URL and an unknown hook",
      gitlab("  projectUrl: acme/app\n  eventTypes: [push_events, pushes]\n"),
      [
        'spec.eventTypes[1]: unknown GitLab webhook "pushes" (one of confidential_issues_events, confidential_note_events, deployment_events, emoji_events, feature_flag_events, issues_events, job_events, merge_requests_events, note_events, pipeline_events, push_events, releases_events, tag_push_events, wiki_page_events)',
        'spec.projectUrl: "acme/app" must be an absolute http(s) URL',
      ],
    ],
    [
      "KafkaSource: no topics, a broker without port, a bad key type",
      kafka(
        "  bootstrapServers: [kafka]\n",
        "  annotations:\n    kafkasources.sources.knative.dev/key-type: long\n",
      ),
      [
        'metadata.annotations[kafkasources.sources.knative.dev/key-type]: must be one of string, int, float, byte-array (got "long")',
        'spec.bootstrapServers[0] warning: "kafka" is not host:port: this KafkaSource cannot connect until it is',
        "spec.topics: required field is missing",
      ],
    ],
    [
      "KafkaSource: a topic name Kafka refuses, SASL asked for without a user",
      kafka(
        '  bootstrapServers: [k:9092]\n  topics: ["orders/eu"]\n  net:\n    sasl:\n      enable: true\n',
      ),
      [
        "spec.net.sasl.user: SASL needs a user",
        "spec.topics[0]: invalid topic \"orders/eu\": letters, digits, '.', '_' and '-' (at most 249)",
      ],
    ],
    [
      "KafkaSource: an unknown ordering",
      kafka("  bootstrapServers: [k:9092]\n  topics: [a]\n  ordering: sorted\n"),
      ['spec.ordering: must be one of ordered, unordered (got "sorted")'],
    ],
    [
      "ApiServerSource: bad apiVersion and kind, In without values, Exists with values",
      apiserver(
        "  resources:\n    - apiVersion: apps/v1/extra\n      kind: pod\n      selector:\n        matchExpressions:\n          - { key: tier, operator: In }\n          - { key: app, operator: Exists, values: [x] }\n",
      ),
      [
        'spec.resources[0].apiVersion: "apps/v1/extra" is not "v1" or "group/version"',
        'spec.resources[0].kind: "pod" is not a Kubernetes kind (like Pod or Deployment)',
        "spec.resources[0].selector.matchExpressions[0].values: must not be empty for operator In",
        "spec.resources[0].selector.matchExpressions[1].values: must be empty for operator Exists",
      ],
    ],
    [
      "ApiServerSource: both cluster annotations, one not a URL",
      apiserver(
        "  resources: [{ apiVersion: v1, kind: Pod }]\n",
        "  annotations:\n    eventail.io/apiserver-url: localhost:8001\n    eventail.io/kubeconfig: /etc/kube/config\n",
      ),
      [
        'metadata.annotations[eventail.io/apiserver-url]: "localhost:8001" must be an absolute http(s) URL',
        "metadata.annotations[eventail.io/apiserver-url]: set eventail.io/apiserver-url or eventail.io/kubeconfig, not both",
      ],
    ],
    [
      "ApiServerSource: an unknown mode",
      apiserver("  mode: Object\n  resources: [{ apiVersion: v1, kind: Pod }]\n"),
      ['spec.mode: must be one of Reference, Resource (got "Object")'],
    ],
    [
      "ContainerSource: two containers, the first naming only an image (accepted, with a warning)",
      container(
        "        - name: a\n          image: busybox\n        - name: b\n          command: [sleep]\n",
      ),
      [
        "spec.template.spec.containers: only one container runs standalone (got 2)",
        "spec.template.spec.containers[0].command warning: not run standalone: Eventail cannot run an image, only a command as a local process (set command to run one here)",
      ],
    ],
    [
      "ContainerSource: a container with neither image nor command",
      container("        - name: a\n          workingDir: /tmp\n"),
      [
        "spec.template.spec.containers[0].command: required standalone: Eventail runs the command as a local process (images are not run)",
      ],
    ],
    [
      "ContainerSource: a ConfigMap reference and a bad variable name",
      container(
        "        - command: [node]\n          env:\n            - name: 1BAD\n              value: x\n            - name: FROM_MAP\n              valueFrom:\n                configMapKeyRef: { name: cfg, key: k }\n",
      ),
      [
        'spec.template.spec.containers[0].env[0].name: invalid environment variable name "1BAD"',
        "spec.template.spec.containers[0].env[1].valueFrom.configMapKeyRef: only secretKeyRef is supported standalone (no ConfigMap or field references)",
      ],
    ],
    [
      "MessageQueueTrigger: respTopic equal to topic, a NATS wildcard, a Kafka-only key",
      mqt(
        "  messageQueueType: nats\n  topic: orders.*\n  respTopic: orders.*\n  metadata: { bootstrapServers: k:9092 }\n",
      ),
      [
        "spec.metadata[bootstrapServers]: unknown key for nats (one of natsServer, stream, consumer)",
        'spec.respTopic: invalid NATS subject "orders.*": dot-separated tokens, no spaces or wildcards',
        'spec.respTopic: must differ from topic "orders.*" (messages would loop)',
        'spec.topic: invalid NATS subject "orders.*": dot-separated tokens, no spaces or wildcards',
      ],
    ],
    [
      "MessageQueueTrigger: retries and dead letters set the Knative way",
      mqt(
        "  messageQueueType: redis\n  topic: orders\n  delivery:\n    retry: 3\n    deadLetterSink: { uri: http://127.0.0.1:9/dead }\n",
      ),
      [
        "spec.delivery.deadLetterSink: set spec.errorTopic instead (where failed messages go)",
        "spec.delivery.retry: set spec.maxRetries instead (a trigger's retries)",
      ],
    ],
    [
      "MessageQueueTrigger: an unknown queue type, negative maxRetries, a bad content type",
      mqt("  messageQueueType: sqs\n  topic: q\n  maxRetries: -1\n  contentType: json\n"),
      [
        'spec.contentType: "json" is not a media type like application/json',
        "spec.maxRetries: must be >= 0 (got -1)",
        'spec.messageQueueType: must be one of kafka, nats, redis, rabbitmq, mqtt (got "sqs")',
      ],
    ],
  ])("%s", (_name, yaml, expected) => {
    expect(issuesOf(yaml).sort()).toEqual(expected.sort());
  });
});

describe("KafkaSource spec.net: SASL and TLS from Secrets, as Knative reads them", () => {
  const secret = (name: string, data: string) =>
    `---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\nstringData:\n${data}`;
  const ref = (name: string, key: string) =>
    `\n        secretKeyRef: { name: ${name}, key: ${key} }\n`;
  const tls = (fields: string) =>
    kafka(
      `  bootstrapServers: [k:9093]\n  topics: [a]\n  net:\n    tls:\n      enable: true\n${fields}`,
    );
  const sasl = (fields: string) =>
    kafka(
      `  bootstrapServers: [k:9092]\n  topics: [a]\n  net:\n    sasl:\n      enable: true\n${fields}`,
    );
  const CERTS = secret("certs", "  ca.crt: CA\n  tls.crt: CERT\n  tls.key: KEY\n");
  const LOGIN = secret("login", "  user: u\n  password: p\n  mechanism: SCRAM-SHA-512\n");

  it.each<[string, string, string[]]>([
    [
      "TLS with a CA and a client certificate from one Secret",
      tls(
        `      caCert:${ref("certs", "ca.crt")}      cert:${ref("certs", "tls.crt")}      key:${ref("certs", "tls.key")}`,
      ) + CERTS,
      [],
    ],
    ["TLS with nothing else verifies against the system CAs", tls(""), []],
    [
      "SASL SCRAM with user, password and type from a Secret",
      sasl(
        `      user:${ref("login", "user")}      password:${ref("login", "password")}      type:${ref("login", "mechanism")}`,
      ) + LOGIN,
      [],
    ],
    [
      "TLS settings that are not enabled are not read",
      kafka(
        `  bootstrapServers: [k:9092]\n  topics: [a]\n  net:\n    tls:\n      enable: false\n      caCert:${ref("absent", "ca.crt")}`,
      ),
      [],
    ],
    [
      "a Secret not among the manifests is a warning (the source starts once it is added)",
      tls(`      caCert:${ref("absent", "ca.crt")}`),
      [
        "spec.net.tls.caCert.secretKeyRef.name warning: Secret default/absent is not among the manifests: this KafkaSource does not start until it is added",
      ],
    ],
    [
      "a Secret without the key named is an error at that key",
      tls(`      caCert:${ref("certs", "ca.pem")}`) + CERTS,
      [
        'spec.net.tls.caCert.secretKeyRef.key: Secret default/certs has no key "ca.pem" (or it is empty)',
      ],
    ],
    [
      "a client certificate without its key",
      tls(`      cert:${ref("certs", "tls.crt")}`) + CERTS,
      ["spec.net.tls.key: user.crt and user.key go together (client certificate)"],
    ],
    [
      "a SASL type Knative does not know",
      sasl(
        `      user:${ref("login", "user")}      password:${ref("login", "password")}      type:${ref("login", "user")}`,
      ) + LOGIN,
      ['spec.net.sasl.type: sasl.mechanism "u" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512'],
    ],
    [
      "AWS MSK IAM (Knative v1's roleARN) is a standalone limit",
      sasl(`      roleARN:${ref("login", "user")}`) + LOGIN,
      [
        "spec.net.sasl.roleARN: AWS MSK IAM authentication is not run standalone; use SASL user and password (sasl.type PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) or TLS client certificates",
      ],
    ],
  ])("%s", (_what, yaml, expected) => {
    expect(issuesOf(yaml)).toEqual(expected);
  });
});
