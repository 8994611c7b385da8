import { writeFileSync } from "node:fs";
import { decodeJwt } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/observability/logger.js";
import type { Resource } from "../../src/resources/types.js";
import { addressables, subjectsOf } from "../../src/runtime/addressables.js";
import { Security } from "../../src/security/security.js";
import { resource, tempDir } from "./support.js";

const SERVER = "http://127.0.0.1:8080";
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function configured(resources: Resource[]): Security {
  const state = tempDir();
  cleanups.push(state.remove);
  const security = new Security({ logger: silentLogger(), stateDir: state.dir });
  security.setServerUrl(SERVER);
  security.configure({
    resources,
    addressables: addressables(resources, SERVER),
    subjectsOf: subjectsOf(resources),
  });
  return security;
}

const enabled = resource("v1", "ConfigMap", "config-features", {
  namespace: "knative-eventing",
  data: { "authentication-oidc": "enabled" },
});

describe("delivery credentials", () => {
  it("are none with authentication off, and no key is generated", () => {
    const security = configured([]);
    expect(
      security.authorization({ namespace: "default", kind: "trigger", name: "t" }, "http://x"),
    ).toBeUndefined();
    expect(security.jwks().keys).toEqual([]);
  });

  it.each([
    [
      "a trigger",
      { kind: "trigger", name: "t" },
      "system:serviceaccount:default:t-oidc-eventing.knative.dev-trigger",
    ],
    [
      "a subscription",
      { kind: "subscription", name: "s" },
      "system:serviceaccount:default:s-oidc-messaging.knative.dev-subscription",
    ],
    [
      "a PingSource",
      { kind: "source", name: "pingsource/tick" },
      "system:serviceaccount:default:tick-oidc-sources.knative.dev-pingsource",
    ],
    [
      "a MessageQueueTrigger",
      { kind: "source", name: "messagequeuetrigger/mq" },
      "system:serviceaccount:default:mq-oidc-eventail.io-messagequeuetrigger",
    ],
  ])("name %s by Knative's OIDC subject", (_name, labels, subject) => {
    const security = configured([
      enabled,
      resource("sources.knative.dev/v1", "PingSource", "tick"),
      resource("eventail.io/v1alpha1", "MessageQueueTrigger", "mq"),
    ]);
    const header = security.authorization(
      { namespace: "default", ...labels },
      "http://sink.example/x",
    );
    expect(decodeJwt(header!.replace(/^Bearer /, "")).sub).toBe(subject);
  });

  it.each([
    [
      "the audience of an Eventail address",
      `${SERVER}/default/orders`,
      "eventing.knative.dev/broker/default/orders",
    ],
    ["the audience a destination names", "https://sink.example/in", "sink-audience"],
    ["else the destination's URL", "https://other.example/in?x=1", "https://other.example/in?x=1"],
  ])("are for %s", (_name, url, audience) => {
    const security = configured([
      enabled,
      resource("eventing.knative.dev/v1", "Broker", "orders"),
      resource("eventing.knative.dev/v1", "Trigger", "t", {
        spec: {
          broker: "orders",
          subscriber: { uri: "https://sink.example/in", audience: "sink-audience" },
        },
      }),
    ]);
    const header = security.authorization(
      { namespace: "default", kind: "trigger", name: "t" },
      url,
    );
    const claims = decodeJwt(header!.replace(/^Bearer /, ""));
    expect(claims.aud).toBe(audience);
    expect(claims.iss).toBe(SERVER);
  });
});

describe("delivery audiences a manifest names", () => {
  const trigger = (namespace: string, name: string, audience: string) =>
    resource("eventing.knative.dev/v1", "Trigger", name, {
      namespace,
      spec: { broker: "orders", subscriber: { uri: "https://sink.example/in", audience } },
    });
  const audienceOf = (security: Security, namespace: string, name: string) =>
    decodeJwt(
      security
        .authorization({ namespace, kind: "trigger", name }, "https://sink.example/in")!
        .replace(/^Bearer /, ""),
    ).aud;

  it("are each namespace's own: another namespace naming the same URL changes nothing", () => {
    // The other namespace's Trigger comes first: the first one seen used to win for every sender.
    const security = configured([
      enabled,
      trigger("evil", "e", "junk"),
      trigger("default", "t", "sink-audience"),
    ]);
    expect(audienceOf(security, "default", "t")).toBe("sink-audience");
    expect(audienceOf(security, "evil", "e")).toBe("junk");
  });

  it("never make a token for the operations API: the destination's URL stands in", () => {
    const security = configured([enabled, trigger("default", "t", "eventail:api")]);
    expect(audienceOf(security, "default", "t")).toBe("https://sink.example/in");
  });
});

describe("delivery credentials across configurations", () => {
  it("follow a destination's audience when a new configuration changes it", () => {
    const state = tempDir();
    cleanups.push(state.remove);
    const security = new Security({ logger: silentLogger(), stateDir: state.dir });
    security.setServerUrl(SERVER);
    const withAudience = (audience: string) => {
      const resources = [
        enabled,
        resource("eventing.knative.dev/v1", "Broker", "orders"),
        resource("eventing.knative.dev/v1", "Trigger", "t", {
          spec: { broker: "orders", subscriber: { uri: "https://sink.example/in", audience } },
        }),
      ];
      security.configure({
        resources,
        addressables: addressables(resources, SERVER),
        subjectsOf: subjectsOf(resources),
      });
    };
    const audienceSent = () =>
      decodeJwt(
        security
          .authorization(
            { namespace: "default", kind: "trigger", name: "t" },
            "https://sink.example/in",
          )!
          .replace(/^Bearer /, ""),
      ).aud;
    withAudience("first-audience");
    expect(audienceSent()).toBe("first-audience");
    withAudience("second-audience");
    expect(audienceSent()).toBe("second-audience");
  });
});

describe("a configuration whose signing key cannot be had", () => {
  it("still turns authentication on (requests fail closed) and reports the error", () => {
    const state = tempDir();
    cleanups.push(state.remove);
    const notADirectory = `${state.dir}/file`;
    writeFileSync(notADirectory, "x");
    const security = new Security({ logger: silentLogger(), stateDir: notADirectory });
    security.setServerUrl(SERVER);
    const resources = [enabled, resource("eventing.knative.dev/v1", "Broker", "orders")];
    expect(() =>
      security.configure({
        resources,
        addressables: addressables(resources, SERVER),
        subjectsOf: subjectsOf(resources),
      }),
    ).toThrow();
    expect(security.enabled()).toBe(true);
    expect(security.addressAt("/default/orders")).toBeDefined();
  });
});
