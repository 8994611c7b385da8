import { describe, expect, it } from "vitest";
import type { Resource } from "../../src/resources/types.js";
import { addressables, addressStatusOf, subjectsOf } from "../../src/runtime/addressables.js";
import { oidcSubject } from "../../src/security/oidc-identity.js";
import { resource } from "./support.js";

const BASE = "http://127.0.0.1:8080";
const sub = (name: string) => oidcSubject("messaging.knative.dev", "Subscription", "shop", name);

const world: Resource[] = [
  resource("eventing.knative.dev/v1", "Broker", "orders", {
    namespace: "shop",
    labels: { team: "a" },
  }),
  resource("messaging.knative.dev/v1", "Channel", "events", {
    namespace: "shop",
    spec: {
      channelTemplate: { apiVersion: "messaging.knative.dev/v1beta1", kind: "KafkaChannel" },
    },
  }),
  resource("sinks.knative.dev/v1alpha1", "IntegrationSink", "log", {
    namespace: "shop",
    spec: { log: {} },
  }),
  resource("flows.knative.dev/v1", "Sequence", "seq", {
    namespace: "shop",
    spec: { steps: [{ uri: "http://a" }, { uri: "http://b" }, { uri: "http://c" }] },
  }),
  resource("flows.knative.dev/v1", "Parallel", "par", {
    namespace: "shop",
    spec: { branches: [{ filter: { uri: "http://f" }, subscriber: { uri: "http://s" } }] },
  }),
  resource("eventing.knative.dev/v1", "Trigger", "t", { namespace: "shop" }),
];

describe("the status model of addressables", () => {
  const all = addressables(world, BASE);
  const find = (kind: string, name: string) => all.find((a) => a.kind === kind && a.name === name)!;

  it.each([
    ["Broker", "orders", `${BASE}/shop/orders`, "eventing.knative.dev/broker/shop/orders"],
    [
      "Channel",
      "events",
      `${BASE}/channels/shop/events`,
      "messaging.knative.dev/channel/shop/events",
    ],
    [
      "IntegrationSink",
      "log",
      `${BASE}/sinks/shop/log`,
      "sinks.knative.dev/integrationsink/shop/log",
    ],
    ["Sequence", "seq", `${BASE}/flows/shop/sequences/seq`, "flows.knative.dev/sequence/shop/seq"],
    ["Parallel", "par", `${BASE}/flows/shop/parallels/par`, "flows.knative.dev/parallel/shop/par"],
    [
      "InMemoryChannel",
      "seq-kn-sequence-1",
      `${BASE}/channels/shop/seq-kn-sequence-1`,
      "messaging.knative.dev/inmemorychannel/shop/seq-kn-sequence-1",
    ],
  ])("gives %s %s its address and audience", (kind, name, url, audience) => {
    expect(addressStatusOf(world, BASE, kind, "shop", name)).toEqual({ url, audience });
  });

  it("gives kinds without an address none", () => {
    expect(addressStatusOf(world, BASE, "Trigger", "shop", "t")).toBeUndefined();
  });

  it("lets policies select a Channel by its backing kind too", () => {
    expect(find("Channel", "events").alsoSelectedAs).toEqual([
      expect.objectContaining({
        group: "messaging.knative.dev",
        kind: "KafkaChannel",
        name: "events",
      }),
    ]);
  });

  it("lets a flow's policies select its first channel, and its subscriptions feed the next ones", () => {
    expect(find("InMemoryChannel", "seq-kn-sequence-0").alsoSelectedAs).toEqual([
      expect.objectContaining({ kind: "Sequence", name: "seq" }),
    ]);
    expect(find("InMemoryChannel", "seq-kn-sequence-1").internalSenders).toEqual([
      sub("seq-kn-sequence-0"),
    ]);
    expect(find("InMemoryChannel", "seq-kn-sequence-2").internalSenders).toEqual([
      sub("seq-kn-sequence-1"),
    ]);
    expect(find("InMemoryChannel", "par-kn-parallel").alsoSelectedAs).toEqual([
      expect.objectContaining({ kind: "Parallel", name: "par" }),
    ]);
    expect(find("InMemoryChannel", "par-kn-parallel-0").internalSenders).toEqual([
      sub("par-kn-parallel-filter-0"),
    ]);
  });

  it("resolves an EventPolicy from.ref to a Sequence into its subscriptions' subjects", () => {
    const resolve = subjectsOf(world);
    expect(
      resolve({
        apiVersion: "flows.knative.dev/v1",
        kind: "Sequence",
        name: "seq",
        namespace: "shop",
      }),
    ).toEqual([sub("seq-kn-sequence-0"), sub("seq-kn-sequence-1"), sub("seq-kn-sequence-2")]);
    expect(
      resolve({
        apiVersion: "eventing.knative.dev/v1",
        kind: "Trigger",
        name: "t",
        namespace: "shop",
      }),
    ).toEqual([oidcSubject("eventing.knative.dev", "Trigger", "shop", "t")]);
  });
});
