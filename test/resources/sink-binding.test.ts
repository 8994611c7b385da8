import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bindingFor, selects, subjectMatches } from "../../src/resources/sink-binding.js";
import type { SinkBindingResource } from "../../src/resources/types.js";

const source = (name: string, labels: Record<string, string> = {}, namespace = "default") => ({
  apiVersion: "sources.knative.dev/v1",
  kind: "ContainerSource",
  metadata: { name, namespace, labels },
});

const containerSource = { apiVersion: "sources.knative.dev/v1", kind: "ContainerSource" };

describe("subjectMatches: which process a SinkBinding reaches standalone", () => {
  it.each([
    ["a ContainerSource by name", { ...containerSource, name: "emitter" }, source("emitter"), true],
    ["another ContainerSource's name", { ...containerSource, name: "x" }, source("emitter"), false],
    [
      "a ContainerSource by label selector",
      { ...containerSource, selector: { matchLabels: { app: "emitter" } } },
      source("emitter", { app: "emitter", tier: "a" }),
      true,
    ],
    [
      "a selector whose label differs",
      { ...containerSource, selector: { matchLabels: { app: "other" } } },
      source("emitter", { app: "emitter" }),
      false,
    ],
    [
      "a ContainerSource of another namespace",
      { ...containerSource, name: "emitter" },
      source("emitter", {}, "shop"),
      false,
    ],
    [
      "a Deployment subject, never bound standalone",
      { apiVersion: "apps/v1", kind: "Deployment", name: "emitter" },
      { ...source("emitter"), apiVersion: "apps/v1", kind: "Deployment" },
      false,
    ],
    [
      "ContainerSource at an apiVersion it is not served at",
      { apiVersion: "sources.knative.dev/v1beta1", kind: "ContainerSource", name: "emitter" },
      source("emitter"),
      false,
    ],
  ])("%s: %s", (_what, subject, target, expected) => {
    expect(subjectMatches(subject, "default", target)).toBe(expected);
  });

  it("picks the first binding by name when two name the same source", () => {
    const binding = (name: string) =>
      ({
        apiVersion: "sources.knative.dev/v1",
        kind: "SinkBinding",
        metadata: { name, namespace: "default" },
        spec: {
          subject: { ...containerSource, name: "emitter" },
          sink: { uri: `http://${name}/` },
        },
        origin: { file: "x", line: 1 },
      }) as SinkBindingResource;
    expect(bindingFor([binding("b"), binding("a")], source("emitter"))?.metadata.name).toBe("a");
  });
});

describe("selects: Kubernetes label selector semantics", () => {
  const labels = { app: "emitter", tier: "web" };
  it.each([
    ["In with the value", { key: "app", operator: "In", values: ["emitter", "x"] }, true],
    ["In without the value", { key: "app", operator: "In", values: ["x"] }, false],
    ["NotIn without the value", { key: "app", operator: "NotIn", values: ["x"] }, true],
    ["NotIn of a missing label", { key: "zone", operator: "NotIn", values: ["x"] }, true],
    ["Exists", { key: "tier", operator: "Exists" }, true],
    ["DoesNotExist of a present label", { key: "tier", operator: "DoesNotExist" }, false],
    ["an unknown operator selects nothing", { key: "tier", operator: "Gt" }, false],
  ])("%s", (_what, expression, expected) => {
    expect(selects({ matchExpressions: [expression] }, labels)).toBe(expected);
  });

  it("never throws, whatever the selector and labels", () => {
    const expression = fc.record({
      key: fc.string(),
      operator: fc.constantFrom("In", "NotIn", "Exists", "DoesNotExist", "Bad"),
      values: fc.array(fc.string()),
    });
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.string()),
        fc.array(expression),
        fc.dictionary(fc.string(), fc.string()),
        (matchLabels, matchExpressions, target) => {
          expect(typeof selects({ matchLabels, matchExpressions }, target)).toBe("boolean");
        },
      ),
      { numRuns: 2000 },
    );
  });
});
