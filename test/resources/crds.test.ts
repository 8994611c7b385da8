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
  it("holds one CustomResourceDefinition per kind the contract lists in section 2", () => {
    expect(crds.map(({ crd }) => crd.spec.names.kind).sort()).toEqual(
      [
        "ApiServerSource",
        "ContainerSource",
        "GitHubSource",
        "GitLabSource",
        "KafkaSource",
        "MessageQueueTrigger",
        "Broker",
        "Channel",
        "InMemoryChannel",
        "IntegrationSink",
        "KafkaChannel",
        "NatsJetStreamChannel",
        "Parallel",
        "PingSource",
        "RedisStreamChannel",
        "Sequence",
        "Subscription",
        "Trigger",
        "EventPolicy",
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
    ["KafkaSource", "sources.knative.dev/v1beta1"],
    ["ApiServerSource", "sources.knative.dev/v1"],
    ["ContainerSource", "sources.knative.dev/v1"],
    ["MessageQueueTrigger", "eventail.io/v1alpha1"],
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
