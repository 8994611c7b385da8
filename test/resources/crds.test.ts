import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { crdsDirectory, knownKinds, schemaErrors } from "../../src/resources/schema.js";

const dir = crdsDirectory();
const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
const crds = files.map((file) => ({
  file,
  crd: parse(readFileSync(path.join(dir, file), "utf8"), { merge: true }),
}));

/** Kubernetes' structural-schema rule: every node says its type unless it keeps unknown fields. */
function untypedNodes(node: Record<string, unknown>, at: string): string[] {
  const out: string[] = [];
  if (node["type"] === undefined && node["x-kubernetes-preserve-unknown-fields"] !== true)
    out.push(at);
  const props = (node["properties"] ?? {}) as Record<string, Record<string, unknown>>;
  for (const [key, child] of Object.entries(props))
    out.push(...untypedNodes(child, `${at}.${key}`));
  const items = node["items"] as Record<string, unknown> | undefined;
  if (items) out.push(...untypedNodes(items, `${at}[]`));
  const extra = node["additionalProperties"];
  if (extra && typeof extra === "object")
    out.push(...untypedNodes(extra as Record<string, unknown>, `${at}{}`));
  return out;
}

describe("crds/", () => {
  it("holds one CustomResourceDefinition per kind and group the contract lists in section 2", () => {
    expect(crds.map(({ crd }) => `${crd.spec.group} ${crd.spec.names.kind}`).sort()).toEqual(
      [
        "sources.knative.dev ApiServerSource",
        "sources.knative.dev ContainerSource",
        "sources.knative.dev GitHubSource",
        "sources.knative.dev GitLabSource",
        "eventail.io GitLabSource",
        "sources.knative.dev KafkaSource",
        "sources.knative.dev PingSource",
        "sources.knative.dev SinkBinding",
        "eventail.io MessageQueueTrigger",
        "eventing.knative.dev Broker",
        "eventing.knative.dev EventType",
        "eventing.knative.dev Trigger",
        "messaging.knative.dev Channel",
        "messaging.knative.dev InMemoryChannel",
        "messaging.knative.dev KafkaChannel",
        "messaging.knative.dev NatsJetStreamChannel",
        "messaging.knative.dev Subscription",
        "sinks.knative.dev IntegrationSink",
        "flows.knative.dev Parallel",
        "flows.knative.dev Sequence",
        "eventail.io RedisStreamChannel",
        "sources.knative.dev IntegrationSource",
        "sinks.knative.dev JobSink",
        "eventing.knative.dev KafkaSink",
        "sinks.knative.dev RedisStreamSink",
        "sources.knative.dev RedisStreamSource",
        "eventing.knative.dev EventTransform",
        "eventing.knative.dev RequestReply",
        "eventing.knative.dev EventPolicy",
        "eventing.knative.dev RabbitmqBrokerConfig",
        "sources.knative.dev RabbitmqSource",
        "eventail.io MqttSource",
      ].sort(),
    );
  });

  it.each(crds)(
    "$file is an installable apiextensions.k8s.io/v1 CRD with a structural schema",
    ({ crd }) => {
      expect(crd.apiVersion).toBe("apiextensions.k8s.io/v1");
      expect(crd.kind).toBe("CustomResourceDefinition");
      expect(crd.metadata.name).toBe(`${crd.spec.names.plural}.${crd.spec.group}`);
      expect(crd.spec.scope).toBe("Namespaced");
      expect(crd.spec.versions.filter((v: { storage: boolean }) => v.storage)).toHaveLength(1);
      for (const version of crd.spec.versions) {
        expect(untypedNodes(version.schema.openAPIV3Schema, "")).toEqual([]);
      }
    },
  );

  it.each([
    ["Broker", "eventing.knative.dev/v1"],
    ["Trigger", "eventing.knative.dev/v1"],
    ["PingSource", "sources.knative.dev/v1"],
    ["IntegrationSink", "sinks.knative.dev/v1alpha1"],
    ["Channel", "messaging.knative.dev/v1"],
    ["InMemoryChannel", "messaging.knative.dev/v1"],
    ["Subscription", "messaging.knative.dev/v1"],
    ["Sequence", "flows.knative.dev/v1"],
    ["Parallel", "flows.knative.dev/v1"],
    ["KafkaChannel", "messaging.knative.dev/v1beta1"],
    ["NatsJetStreamChannel", "messaging.knative.dev/v1alpha1"],
    ["RedisStreamChannel", "eventail.io/v1alpha1"],
    ["GitHubSource", "sources.knative.dev/v1alpha1"],
    ["GitLabSource", "eventail.io/v1alpha1"],
    ["GitLabSource", "sources.knative.dev/v1alpha1"],
    ["KafkaSource", "sources.knative.dev/v1beta1"],
    ["KafkaSource", "sources.knative.dev/v1"],
    ["PingSource", "sources.knative.dev/v1beta2"],
    ["KafkaChannel", "messaging.knative.dev/v1"],
    ["EventType", "eventing.knative.dev/v1beta2"],
    ["EventType", "eventing.knative.dev/v1beta3"],
    ["SinkBinding", "sources.knative.dev/v1"],
    ["ApiServerSource", "sources.knative.dev/v1"],
    ["ContainerSource", "sources.knative.dev/v1"],
    ["MessageQueueTrigger", "eventail.io/v1alpha1"],
    ["JobSink", "sinks.knative.dev/v1alpha1"],
    ["KafkaSink", "eventing.knative.dev/v1alpha1"],
    ["RedisStreamSink", "sinks.knative.dev/v1alpha1"],
    ["RedisStreamSource", "sources.knative.dev/v1alpha1"],
    ["IntegrationSource", "sources.knative.dev/v1alpha1"],
    ["EventTransform", "eventing.knative.dev/v1alpha1"],
    ["RequestReply", "eventing.knative.dev/v1alpha1"],
    ["ConfigMap", "v1"],
    ["Secret", "v1"],
  ])("the schema catalog serves %s as %s", (kind, apiVersion) => {
    expect(knownKinds().get(kind)?.apiVersions).toContain(apiVersion);
    expect(schemaErrors(apiVersion, kind, {})).toBeDefined();
  });

  const served = [
    ...crds.flatMap(({ crd }) =>
      (crd.spec.versions as Array<{ name: string; served: boolean }>)
        .filter((version) => version.served)
        .map((version) => [`${crd.spec.group}/${version.name}`, crd.spec.names.kind as string]),
    ),
    ["v1", "ConfigMap"],
    ["v1", "Secret"],
  ];

  it.each(served)("compiles the %s %s schema under ajv's strict mode", (apiVersion, kind) => {
    expect(() => schemaErrors(apiVersion!, kind!, {})).not.toThrow();
    expect(schemaErrors(apiVersion!, kind!, {})).toBeDefined();
  });

  it("reports nothing for a kind it does not know, so the caller can say the kind is unknown", () => {
    expect(schemaErrors("serving.knative.dev/v1", "Service", { spec: {} })).toBeUndefined();
  });
});
