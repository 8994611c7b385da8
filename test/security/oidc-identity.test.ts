import { describe, expect, it } from "vitest";
import { audienceOf } from "../../src/resources/status.js";
import {
  childName,
  oidcServiceAccountName,
  oidcSubject,
} from "../../src/security/oidc-identity.js";

// Expected values are the outputs Knative's own tests fix (knative.dev/pkg kmeta/names_test.go,
// knative.dev/eventing pkg/auth/serviceaccount_test.go, Apache-2.0): Eventail must name senders
// exactly as Knative does for EventPolicies to carry over.
describe("childName (kmeta.ChildName)", () => {
  it.each([
    ["a short name is parent + suffix", "asdf", "-deployment", "asdf-deployment"],
    [
      "a long parent is cut and hashed, the suffix kept",
      "f".repeat(63),
      "-deployment",
      "ffffffffffffffffffff105d7597f637e83cc711605ac3ea4957-deployment",
    ],
    [
      "a shorter suffix leaves more of the parent",
      "f".repeat(63),
      "-deploy",
      "ffffffffffffffffffffffff105d7597f637e83cc711605ac3ea4957-deploy",
    ],
    [
      "a suffix too long to keep hashes the whole name",
      "f".repeat(63),
      "f".repeat(63),
      "fffffffffffffffffffffffffffffff0502661254f13c89973cb3a83e0cbec0",
    ],
    [
      "a short parent with a long suffix is padded with the suffix",
      "a",
      "f".repeat(63),
      "ab5cfd486935decbc0d305799f4ce4414ffffffffffffffffffffffffffffff",
    ],
    [
      "a trailing non-alphanumeric character is trimmed",
      "a".repeat(17),
      "a.-.-.-.-.-.-.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "aaaaaaaaaaaaaaaaaa1eb10dc911444f8434af83b7225442da",
    ],
  ])("%s", (_name, parent, suffix, want) => {
    expect(childName(parent, suffix)).toBe(want);
  });
});

describe("OIDC identity of a sending resource", () => {
  it.each([
    ["a plain name", "group", "kind", "name", "name-oidc-group-kind"],
    [
      "lower case, whatever the name's case",
      "eventing.knative.dev",
      "Broker",
      "my-Broker",
      "my-broker-oidc-eventing.knative.dev-broker",
    ],
    [
      "a long name shortened before lower-casing (the hash keeps the case)",
      "eventing.knative.dev",
      "Broker",
      "my-loooooooooooooooooooooooooooooooooooooog-Broker",
      "my-looooooooooooooooooooooooooo2dfc2a3825b8d82077b0f25518b36884",
    ],
  ])("service account: %s", (_name, group, kind, name, want) => {
    expect(oidcServiceAccountName(group, kind, name)).toBe(want);
  });

  it("is the subject system:serviceaccount:{namespace}:{service account}", () => {
    expect(oidcSubject("eventing.knative.dev", "Trigger", "default", "mytrigger")).toBe(
      "system:serviceaccount:default:mytrigger-oidc-eventing.knative.dev-trigger",
    );
    expect(oidcSubject("sources.knative.dev", "PingSource", "shop", "tick")).toBe(
      "system:serviceaccount:shop:tick-oidc-sources.knative.dev-pingsource",
    );
  });
});

describe("audience (pkg/auth GetAudience)", () => {
  it.each([
    [
      "eventing.knative.dev",
      "Broker",
      "default",
      "orders",
      "eventing.knative.dev/broker/default/orders",
    ],
    [
      "messaging.knative.dev",
      "InMemoryChannel",
      "a",
      "c",
      "messaging.knative.dev/inmemorychannel/a/c",
    ],
    ["flows.knative.dev", "Sequence", "a", "S1", "flows.knative.dev/sequence/a/s1"],
  ])("%s %s %s/%s → %s", (group, kind, namespace, name, want) => {
    expect(audienceOf(group, kind, namespace, name)).toBe(want);
  });
});
