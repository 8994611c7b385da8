import { describe, expect, it } from "vitest";
import { createEvent } from "../../src/events/event.js";
import {
  type AuthorizationMode,
  applyingPolicies,
  authorize,
  compilePolicy,
  type EventPolicySpec,
  type FromReference,
  type PolicyIdentity,
} from "../../src/security/event-policy.js";
import { selectorMatches } from "../../src/security/label-selector.js";
import { oidcSubject } from "../../src/security/oidc-identity.js";
import { resource } from "./support.js";

const BROKER: PolicyIdentity = {
  group: "eventing.knative.dev",
  kind: "Broker",
  namespace: "default",
  name: "orders",
  labels: { team: "shop", tier: "gold" },
};
const BROKER_REF = { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: "orders" };
const SAME = "system:serviceaccount:default:app";
const OTHER = "system:serviceaccount:other:app";
const TRIGGER_SUB = oidcSubject("eventing.knative.dev", "Trigger", "default", "t1");

const subjectsOf = (ref: FromReference) => [
  oidcSubject(ref.apiVersion.split("/")[0]!, ref.kind, ref.namespace, ref.name),
];

function policy(name: string, spec: EventPolicySpec, namespace = "default") {
  return compilePolicy(
    resource("eventing.knative.dev/v1alpha1", "EventPolicy", name, { namespace, spec }),
    subjectsOf,
  );
}

function event(type: string, id = "e1") {
  return createEvent({ specversion: "1.0", id, source: "/test", type });
}

interface Case {
  readonly policies: ReturnType<typeof policy>[];
  readonly mode?: AuthorizationMode;
  readonly subject: string;
  readonly types?: readonly string[];
  readonly allowed: boolean;
}

const fromOther = { from: [{ sub: OTHER }] };

describe("EventPolicy decision (CONTRACT §10)", () => {
  it.each<[string, Case]>([
    [
      "no policy, allow-same-namespace: a sender of the namespace passes",
      { policies: [], subject: SAME, allowed: true },
    ],
    [
      "no policy, allow-same-namespace: a sender of another namespace is refused",
      { policies: [], subject: OTHER, allowed: false },
    ],
    [
      "no policy, allow-same-namespace: a subject that is no service account is refused",
      { policies: [], subject: "app", allowed: false },
    ],
    [
      "no policy, allow-all: anyone passes",
      { policies: [], mode: "allow-all", subject: OTHER, allowed: true },
    ],
    [
      "no policy, deny-all: even the namespace's own sender is refused",
      { policies: [], mode: "deny-all", subject: SAME, allowed: false },
    ],
    [
      "a policy by ref lets its sub in",
      {
        policies: [policy("p", { to: [{ ref: BROKER_REF }], ...fromOther })],
        subject: OTHER,
        allowed: true,
      },
    ],
    [
      "once a policy applies, the default mode no longer lets the namespace in",
      {
        policies: [policy("p", { to: [{ ref: BROKER_REF }], ...fromOther })],
        subject: SAME,
        allowed: false,
      },
    ],
    [
      "a policy that applies under allow-all still refuses who it does not list",
      {
        policies: [policy("p", { to: [{ ref: BROKER_REF }], ...fromOther })],
        mode: "allow-all",
        subject: SAME,
        allowed: false,
      },
    ],
    [
      "a trailing * matches by prefix",
      {
        policies: [policy("p", { from: [{ sub: "system:serviceaccount:other:*" }] })],
        subject: "system:serviceaccount:other:anyone",
        allowed: true,
      },
    ],
    [
      "a prefix does not match another namespace",
      {
        policies: [policy("p", { from: [{ sub: "system:serviceaccount:other:*" }] })],
        subject: "system:serviceaccount:others:x",
        allowed: false,
      },
    ],
    [
      "sub compares case-insensitively",
      {
        policies: [policy("p", { from: [{ sub: "System:ServiceAccount:Other:App" }] })],
        subject: OTHER,
        allowed: true,
      },
    ],
    [
      "a prefix compares case-insensitively",
      {
        policies: [policy("p", { from: [{ sub: "SYSTEM:serviceaccount:OTHER:*" }] })],
        subject: OTHER,
        allowed: true,
      },
    ],
    [
      "from.ref stands for the resource's OIDC identity",
      {
        policies: [
          policy("p", {
            from: [{ ref: { apiVersion: "eventing.knative.dev/v1", kind: "Trigger", name: "t1" } }],
          }),
        ],
        subject: TRIGGER_SUB,
        allowed: true,
      },
    ],
    [
      "from.ref in another namespace is another identity",
      {
        policies: [
          policy("p", {
            from: [
              {
                ref: {
                  apiVersion: "eventing.knative.dev/v1",
                  kind: "Trigger",
                  name: "t1",
                  namespace: "other",
                },
              },
            ],
          }),
        ],
        subject: TRIGGER_SUB,
        allowed: false,
      },
    ],
    [
      "a policy with no from lets nobody in",
      {
        policies: [policy("p", { to: [{ ref: BROKER_REF }] })],
        mode: "allow-all",
        subject: SAME,
        allowed: false,
      },
    ],
    [
      "a policy to another broker does not apply: the default mode decides",
      {
        policies: [
          policy("p", { to: [{ ref: { ...BROKER_REF, name: "billing" } }], ...fromOther }),
        ],
        subject: SAME,
        allowed: true,
      },
    ],
    [
      "to.ref compares kind and name case-insensitively and ignores the version",
      {
        policies: [
          policy("p", {
            to: [
              {
                ref: { apiVersion: "Eventing.Knative.Dev/v1beta1", kind: "broker", name: "ORDERS" },
              },
            ],
            ...fromOther,
          }),
        ],
        subject: SAME,
        allowed: false,
      },
    ],
    [
      "a selector whose labels match applies",
      {
        policies: [
          policy("p", {
            to: [
              {
                selector: {
                  apiVersion: "eventing.knative.dev/v1",
                  kind: "Broker",
                  matchLabels: { team: "shop" },
                },
              },
            ],
            ...fromOther,
          }),
        ],
        subject: SAME,
        allowed: false,
      },
    ],
    [
      "a selector whose labels do not match does not apply",
      {
        policies: [
          policy("p", {
            to: [
              {
                selector: {
                  apiVersion: "eventing.knative.dev/v1",
                  kind: "Broker",
                  matchLabels: { team: "billing" },
                },
              },
            ],
            ...fromOther,
          }),
        ],
        subject: SAME,
        allowed: true,
      },
    ],
    [
      "a selector of another kind does not apply",
      {
        policies: [
          policy("p", {
            to: [{ selector: { apiVersion: "messaging.knative.dev/v1", kind: "Channel" } }],
            ...fromOther,
          }),
        ],
        subject: SAME,
        allowed: true,
      },
    ],
    [
      "an empty to applies to every resource of the namespace",
      { policies: [policy("p", fromOther)], subject: SAME, allowed: false },
    ],
    [
      "a policy of another namespace never applies",
      { policies: [policy("p", fromOther, "other")], subject: SAME, allowed: true },
    ],
    [
      "an event passing the policy's filters is allowed",
      {
        policies: [policy("p", { ...fromOther, filters: [{ prefix: { type: "com.shop." } }] })],
        subject: OTHER,
        types: ["com.shop.order"],
        allowed: true,
      },
    ],
    [
      "an event failing the policy's filters is refused",
      {
        policies: [policy("p", { ...fromOther, filters: [{ prefix: { type: "com.shop." } }] })],
        subject: OTHER,
        types: ["com.bank.wire"],
        allowed: false,
      },
    ],
    [
      "a CESQL filter applies too",
      {
        policies: [policy("p", { ...fromOther, filters: [{ cesql: "type LIKE 'com.shop.%'" }] })],
        subject: OTHER,
        types: ["com.bank.wire"],
        allowed: false,
      },
    ],
    [
      "another policy that allows the sender with filters the event passes is enough",
      {
        policies: [
          policy("a", { ...fromOther, filters: [{ exact: { type: "x" } }] }),
          policy("b", { ...fromOther, filters: [{ exact: { type: "y" } }] }),
        ],
        subject: OTHER,
        types: ["y"],
        allowed: true,
      },
    ],
    [
      "filters of a policy that does not list the sender cannot let it in",
      {
        policies: [
          policy("a", { from: [{ sub: "someone" }] }),
          policy("b", { ...fromOther, filters: [{ exact: { type: "y" } }] }),
        ],
        subject: OTHER,
        types: ["x"],
        allowed: false,
      },
    ],
    [
      "a batch passes only when every event does",
      {
        policies: [policy("p", { ...fromOther, filters: [{ exact: { type: "ok" } }] })],
        subject: OTHER,
        types: ["ok", "ok", "bad"],
        allowed: false,
      },
    ],
  ])("%s", (_name, c) => {
    const applying = applyingPolicies(c.policies, [BROKER]);
    const events = (c.types ?? ["com.example"]).map((type, i) => event(type, `e${i}`));
    const decision = authorize(
      c.subject,
      "default",
      applying,
      c.mode ?? "allow-same-namespace",
      events,
    );
    expect(decision.allowed).toBe(c.allowed);
  });

  it("names the refused event of a batch", () => {
    const applying = applyingPolicies(
      [policy("p", { ...fromOther, filters: [{ exact: { type: "ok" } }] })],
      [BROKER],
    );
    const decision = authorize(OTHER, "default", applying, "allow-same-namespace", [
      event("ok", "a"),
      event("bad", "b"),
    ]);
    expect(decision).toMatchObject({ allowed: false, eventIndex: 1 });
    expect(decision.allowed === false && decision.reason).toContain("event b");
  });

  it("sorts the applying policies by name, as Knative does", () => {
    const names = applyingPolicies(
      [policy("zeta", {}), policy("alpha", {}), policy("mid", {})],
      [BROKER],
    ).map((p) => p.name);
    expect(names).toEqual(["alpha", "mid", "zeta"]);
  });
});

describe("label selectors", () => {
  const labels = { team: "shop", tier: "gold" };
  it.each([
    ["an empty selector selects everything", {}, true],
    ["matchLabels all present", { matchLabels: { team: "shop", tier: "gold" } }, true],
    ["matchLabels with one value off", { matchLabels: { team: "shop", tier: "silver" } }, false],
    [
      "In",
      { matchExpressions: [{ key: "tier", operator: "In", values: ["gold", "silver"] }] },
      true,
    ],
    [
      "In on a missing key",
      { matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] },
      false,
    ],
    [
      "NotIn on a missing key",
      { matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] },
      true,
    ],
    [
      "NotIn on a listed value",
      { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["gold"] }] },
      false,
    ],
    ["Exists", { matchExpressions: [{ key: "team", operator: "Exists" }] }, true],
    ["DoesNotExist", { matchExpressions: [{ key: "team", operator: "DoesNotExist" }] }, false],
    [
      "an unknown operator selects nothing",
      { matchExpressions: [{ key: "team", operator: "Like" }] },
      false,
    ],
  ])("%s", (_name, selector, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });
});
