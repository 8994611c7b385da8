import { describe, expect, it } from "vitest";
import {
  DEFAULT_FEATURES,
  featureIssues,
  featuresOf,
  readFeatures,
} from "../../src/resources/features.js";
import { ResourceStore } from "../../src/resources/store.js";
import type { Resource } from "../../src/resources/types.js";

describe("config-features", () => {
  it("is off by default, so the quickstart needs no token", () => {
    expect(DEFAULT_FEATURES["authentication-oidc"]).toBe("disabled");
    expect(DEFAULT_FEATURES["default-authorization-mode"]).toBe("allow-same-namespace");
    expect(DEFAULT_FEATURES["eventail-oidc-issuers"]).toEqual([]);
  });

  it.each([
    ["authentication-oidc", "enabled", "enabled"],
    ["authentication-oidc", "Enabled", "enabled"],
    ["authentication-oidc", " disabled ", "disabled"],
    ["default-authorization-mode", "deny-all", "deny-all"],
    ["default-authorization-mode", "allow-all", "allow-all"],
    ["transport-encryption", "strict", "strict"],
    ["eventtype-auto-create", "enabled", "enabled"],
  ] as const)("reads %s: %j as %j", (key, text, value) => {
    expect(readFeatures({ [key]: text })[key]).toBe(value);
    expect(featureIssues({ [key]: text })).toEqual([]);
  });

  it("splits eventail-oidc-issuers on commas, ignoring blanks", () => {
    const features = readFeatures({
      "eventail-oidc-issuers": " https://a.example , ,http://127.0.0.1:9000/realms/x,",
    });
    expect(features["eventail-oidc-issuers"]).toEqual([
      "https://a.example",
      "http://127.0.0.1:9000/realms/x",
    ]);
  });

  it.each([
    ["authentication-oidc", "yes", "must be one of enabled, disabled"],
    ["default-authorization-mode", "allow-some", "must be one of allow-same-namespace"],
    ["eventail-oidc-issuers", "https://ok.example,not a url", '"not a url" is not an http(s) URL'],
    ["eventail-oidc-issuers", "https://a.example/?x=1", "without query or fragment"],
  ])("reports %s: %j and falls back to the default", (key, text, message) => {
    const issues = featureIssues({ [key]: text });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.key).toBe(key);
    expect(issues[0]!.message).toContain(message);
    expect(readFeatures({ [key]: text })[key as "authentication-oidc"]).toEqual(
      DEFAULT_FEATURES[key as "authentication-oidc"],
    );
  });

  it("reads only the ConfigMap config-features of namespace knative-eventing", () => {
    const configMap = (namespace: string, name: string): Resource => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { namespace, name },
      spec: undefined,
      data: { "authentication-oidc": "enabled" },
      origin: { file: "f.yaml", line: 1 },
    });
    const store = new ResourceStore();
    store.replaceAll([configMap("default", "config-features")]);
    expect(featuresOf(store)["authentication-oidc"]).toBe("disabled");
    store.replaceAll([configMap("knative-eventing", "config-features")]);
    expect(featuresOf(store)["authentication-oidc"]).toBe("enabled");
  });
});
