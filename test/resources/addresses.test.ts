import { describe, expect, it } from "vitest";
import { addressOf, DestinationError, resolveDestination } from "../../src/resources/addresses.js";

const BASE = "http://127.0.0.1:8080";

describe("addressOf", () => {
  it.each([
    ["Broker", `${BASE}/shop/orders`],
    ["Channel", `${BASE}/channels/shop/orders`],
    ["InMemoryChannel", `${BASE}/channels/shop/orders`],
    ["KafkaChannel", `${BASE}/channels/shop/orders`],
    ["NatsJetStreamChannel", `${BASE}/channels/shop/orders`],
    ["RedisStreamChannel", `${BASE}/channels/shop/orders`],
    ["Sequence", `${BASE}/flows/shop/sequences/orders`],
    ["Parallel", `${BASE}/flows/shop/parallels/orders`],
    ["IntegrationSink", `${BASE}/sinks/shop/orders`],
  ])("puts a %s at %s", (kind, url) => {
    expect(addressOf({ kind, namespace: "shop", name: "orders" }, BASE)).toBe(url);
  });

  it("gives kinds with no data-plane route no address", () => {
    expect(addressOf({ kind: "PingSource", namespace: "shop", name: "p" }, BASE)).toBeUndefined();
  });

  it("does not double the slash when the base URL ends with one", () => {
    expect(addressOf({ kind: "Broker", namespace: "a", name: "b" }, `${BASE}/`)).toBe(
      `${BASE}/a/b`,
    );
  });
});

describe("resolveDestination", () => {
  const broker = { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "orders" };
  it.each([
    ["a ref, in the holder's namespace", { ref: broker }, `${BASE}/shop/orders`],
    [
      "a ref naming its own namespace",
      { ref: { ...broker, namespace: "audit" } },
      `${BASE}/audit/orders`,
    ],
    [
      "a uri alone, unchanged",
      { uri: "https://example.com/hook?x=1" },
      "https://example.com/hook?x=1",
    ],
    [
      "a ref plus a relative path, resolved as a URI reference",
      { ref: broker, uri: "extra" },
      `${BASE}/shop/extra`,
    ],
    ["a ref plus an absolute path", { ref: broker, uri: "/other/path" }, `${BASE}/other/path`],
    ["a ref plus a query", { ref: broker, uri: "?debug=1" }, `${BASE}/shop/orders?debug=1`],
    [
      "a ref to a kind with no address, whose absolute uri stands in for it",
      {
        ref: { apiVersion: "example.com/v1", kind: "Widget", name: "display" },
        uri: "http://127.0.0.1:9/",
      },
      "http://127.0.0.1:9/",
    ],
  ])("resolves %s", (_what, dest, url) => {
    expect(resolveDestination(dest, "shop", BASE)).toBe(url);
  });

  it.each([
    ["neither ref nor uri", {}, "ref"],
    ["a relative uri alone", { uri: "/events" }, "uri"],
    [
      "a ref to a kind with no address and no uri",
      { ref: { apiVersion: "example.com/v1", kind: "Widget", name: "x" } },
      "ref",
    ],
    [
      "a ref to a Service of a group that serves no Services",
      { ref: { apiVersion: "example.com/v1", kind: "Service", name: "x" } },
      "ref",
    ],
    [
      "a ref to a kind with no address and a relative uri",
      { ref: { apiVersion: "example.com/v1", kind: "Widget", name: "x" }, uri: "/p" },
      "ref",
    ],
  ])("refuses %s, naming the field at fault", (_what, dest, field) => {
    let caught: unknown;
    try {
      resolveDestination(dest, "shop", BASE);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DestinationError);
    expect((caught as DestinationError).field).toBe(field);
  });
});

describe("resolveDestination: refs to Services, standalone (CONTRACT §2)", () => {
  const mapped: Record<string, string> = { "shop/display": "http://127.0.0.1:8081/base/" };
  const lookup = (namespace: string, name: string) => mapped[`${namespace}/${name}`];
  const service = (apiVersion: string, name: string, namespace?: string) => ({
    apiVersion,
    kind: "Service",
    name,
    ...(namespace ? { namespace } : {}),
  });
  it.each([
    [
      "a mapped v1 Service goes where the mapping says",
      { ref: service("v1", "display") },
      "http://127.0.0.1:8081/base/",
    ],
    [
      "a mapped Knative Service goes there too",
      { ref: service("serving.knative.dev/v1", "display") },
      "http://127.0.0.1:8081/base/",
    ],
    [
      "a relative uri beside a mapped Service resolves against the mapped URL",
      { ref: service("v1", "display"), uri: "hook?x=1" },
      "http://127.0.0.1:8081/base/hook?x=1",
    ],
    [
      "an unmapped Service goes to its cluster address",
      { ref: service("v1", "other") },
      "http://other.shop.svc.cluster.local/",
    ],
    [
      "a Service of another namespace is looked up (and addressed) in that namespace",
      { ref: service("serving.knative.dev/v1", "display", "audit") },
      "http://display.audit.svc.cluster.local/",
    ],
    [
      "a relative uri beside an unmapped Service resolves against its cluster address",
      { ref: service("v1", "other"), uri: "/p" },
      "http://other.shop.svc.cluster.local/p",
    ],
  ])("%s", (_what, dest, url) => {
    expect(resolveDestination(dest, "shop", BASE, lookup)).toBe(url);
  });

  it("sends every Service to its cluster address when the caller maps none", () => {
    expect(resolveDestination({ ref: service("v1", "display") }, "shop", BASE)).toBe(
      "http://display.shop.svc.cluster.local/",
    );
  });
});
