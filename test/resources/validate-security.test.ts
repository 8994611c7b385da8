import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { expectIssue, issuesWith } from "./validate-harness.js";

const policy = (spec: string) => `apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata:
  name: case
spec:
${spec}`;

const features = (data: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-features
  namespace: knative-eventing
data:
${data}`;

const indent = (text: string, spaces: number) =>
  text
    .trim()
    .split("\n")
    .map((line) => `${" ".repeat(spaces)}${line}`)
    .join("\n");

const signingSecret = (entries: string, annotations = "") => `apiVersion: v1
kind: Secret
metadata:
  name: eventail-signing-key
${annotations}stringData:
${entries}`;

const pem = (curve: string) =>
  generateKeyPairSync("ec", { namedCurve: curve })
    .privateKey.export({ format: "pem", type: "pkcs8" })
    .toString();

describe("validateResources: EventPolicy", () => {
  it("accepts Knative's examples: refs, selectors, sub patterns, filters", async () => {
    const issues = await issuesWith(
      policy(`  to:
    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
    - selector:
        apiVersion: messaging.knative.dev/v1
        kind: InMemoryChannel
        matchLabels: {team: shop}
        matchExpressions:
          - {key: tier, operator: In, values: [gold]}
  from:
    - ref: {apiVersion: sources.knative.dev/v1, kind: PingSource, name: tick, namespace: other}
    - sub: "system:serviceaccount:partner:*"
  filters:
    - cesql: "type LIKE 'com.shop.%'"
`),
    );
    expect(issues).toEqual([]);
  });

  it.each([
    [
      "a from entry needs ref or sub",
      "  from:\n    - {}\n",
      "spec.from[0]",
      "give one of ref, sub",
    ],
    ["an empty sub is no sub", '  from:\n    - sub: ""\n', "spec.from[0]", "give one of ref, sub"],
    [
      "a from entry takes ref or sub, not both",
      "  from:\n    - sub: a\n      ref: {apiVersion: v1, kind: Trigger, name: t}\n",
      "spec.from[0]",
      "not both",
    ],
    [
      "'*' only at the end of a sub",
      '  from:\n    - sub: "system:*:x"\n',
      "spec.from[0].sub",
      "only allowed as the last character",
    ],
    [
      "a to entry needs ref or selector",
      "  to:\n    - {}\n  from:\n    - sub: a\n",
      "spec.to[0]",
      "give one of ref, selector",
    ],
    [
      "a to ref needs a name",
      "  to:\n    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker}\n",
      "spec.to[0].ref.name",
      "required",
    ],
    [
      "a selector operator is one of Kubernetes'",
      "  to:\n    - selector: {apiVersion: v1, kind: Broker, matchExpressions: [{key: a, operator: Like}]}\n",
      "spec.to[0].selector.matchExpressions[0].operator",
      "must be one of In, NotIn, Exists, DoesNotExist",
    ],
    [
      "filters follow the Trigger's dialect rules",
      '  filters:\n    - cesql: "type = "\n',
      "spec.filters[0].cesql",
      "invalid CESQL",
    ],
  ])("%s", async (_name, spec, path, message) => {
    await expectIssue(policy(spec), path, message);
  });
});

describe("validateResources: config-features", () => {
  it("accepts Knative's values and keys it does not use", async () => {
    expect(
      await issuesWith(
        features(
          "  authentication-oidc: enabled\n  default-authorization-mode: deny-all\n  new-apiserversource-filters: enabled\n",
        ),
      ),
    ).toEqual([]);
  });

  it.each([
    ["authentication-oidc: on", "data[authentication-oidc]", "must be one of enabled, disabled"],
    [
      "default-authorization-mode: allow",
      "data[default-authorization-mode]",
      "allow-same-namespace, allow-all, deny-all",
    ],
    [
      "eventail-oidc-issuers: issuer.example",
      "data[eventail-oidc-issuers]",
      "is not an http(s) URL",
    ],
  ])("reports %s", async (line, path, message) => {
    await expectIssue(features(`  ${line}\n`), path, message);
  });
});

describe("validateResources: the signing-key Secret", () => {
  it("accepts P-256 keys in *.pem entries", async () => {
    expect(await issuesWith(signingSecret(`  key-1.pem: |\n${indent(pem("P-256"), 4)}\n`))).toEqual(
      [],
    );
  });

  it.each([
    [
      "a key of another curve",
      () => `  key-1.pem: |\n${indent(pem("P-384"), 4)}\n`,
      "stringData[key-1.pem]",
      "not an EC P-256 key",
    ],
    [
      "an entry that is no key",
      () => "  key-1.pem: hello\n",
      "stringData[key-1.pem]",
      "not a PEM private key",
    ],
    ["no *.pem entry", () => "  key: hello\n", "data", "holds no *.pem entry"],
  ])("reports %s", async (_name, entries, path, message) => {
    await expectIssue(signingSecret(entries()), path, message);
  });

  it("reports a publish-ahead annotation that is no duration", async () => {
    await expectIssue(
      signingSecret(
        `  k.pem: |\n${indent(pem("P-256"), 4)}\n`,
        "  annotations:\n    eventail.io/publish-ahead: ten minutes\n",
      ),
      "metadata.annotations[eventail.io/publish-ahead]",
      "ISO-8601 duration",
    );
  });
});
