import { describe, expect, it } from "vitest";
import { createEvent } from "../../src/events/event.js";
import { compileCesqlPredicate } from "../../src/triggers/cesql-filter.js";
import { compileFilter, type TriggerFilterSpec } from "../../src/triggers/filter.js";

const event = createEvent({
  specversion: "1.0",
  id: "1",
  source: "/shop/orders",
  type: "com.example.order.created",
  subject: "",
  region: "eu-west",
  priority: 3,
});

const cases: Array<[string, TriggerFilterSpec, boolean]> = [
  ["no filter matches everything", {}, true],
  [
    "attributes: exact type matches",
    { filter: { attributes: { type: "com.example.order.created" } } },
    true,
  ],
  [
    "attributes: other type does not match",
    { filter: { attributes: { type: "com.example.other" } } },
    false,
  ],
  [
    "attributes: several keys are ANDed (all true)",
    { filter: { attributes: { type: "com.example.order.created", source: "/shop/orders" } } },
    true,
  ],
  [
    "attributes: several keys are ANDed (one false)",
    { filter: { attributes: { type: "com.example.order.created", source: "/elsewhere" } } },
    false,
  ],
  [
    "attributes: empty value means present and non-empty (present)",
    { filter: { attributes: { region: "" } } },
    true,
  ],
  [
    "attributes: empty value fails on an empty attribute",
    { filter: { attributes: { subject: "" } } },
    false,
  ],
  [
    "attributes: empty value fails on a missing attribute",
    { filter: { attributes: { missing: "" } } },
    false,
  ],
  ["attributes: missing attribute fails", { filter: { attributes: { missing: "x" } } }, false],
  [
    "attributes: integer extension compares as its string form",
    { filter: { attributes: { priority: "3" } } },
    true,
  ],
  ["exact: matches", { filters: [{ exact: { type: "com.example.order.created" } }] }, true],
  [
    "exact: is case-sensitive",
    { filters: [{ exact: { type: "COM.EXAMPLE.ORDER.CREATED" } }] },
    false,
  ],
  ["exact: missing attribute fails", { filters: [{ exact: { missing: "" } }] }, false],
  ["prefix: matches", { filters: [{ prefix: { type: "com.example." } }] }, true],
  ["prefix: does not match", { filters: [{ prefix: { type: "org." } }] }, false],
  [
    "prefix: missing attribute fails even with an empty prefix",
    { filters: [{ prefix: { missing: "" } }] },
    false,
  ],
  ["suffix: matches", { filters: [{ suffix: { source: "/orders" } }] }, true],
  ["suffix: missing attribute fails", { filters: [{ suffix: { missing: "x" } }] }, false],
  [
    "filters override filter when non-empty",
    { filter: { attributes: { type: "nope" } }, filters: [{ prefix: { type: "com." } }] },
    true,
  ],
  [
    "empty filters fall back to filter",
    { filter: { attributes: { type: "nope" } }, filters: [] },
    false,
  ],
  [
    "several filters are ANDed (all pass)",
    { filters: [{ prefix: { type: "com." } }, { suffix: { type: ".created" } }] },
    true,
  ],
  [
    "several filters are ANDed (one fails)",
    { filters: [{ prefix: { type: "com." } }, { suffix: { type: ".deleted" } }] },
    false,
  ],
  [
    "all: every child must pass",
    { filters: [{ all: [{ exact: { region: "eu-west" } }, { prefix: { source: "/shop" } }] }] },
    true,
  ],
  [
    "all: one failing child fails",
    { filters: [{ all: [{ exact: { region: "eu-west" } }, { prefix: { source: "/nope" } }] }] },
    false,
  ],
  [
    "any: one passing child passes",
    { filters: [{ any: [{ exact: { region: "us" } }, { exact: { region: "eu-west" } }] }] },
    true,
  ],
  [
    "any: no passing child fails",
    { filters: [{ any: [{ exact: { region: "us" } }, { exact: { region: "ap" } }] }] },
    false,
  ],
  ["not: inverts a failing child", { filters: [{ not: { exact: { region: "us" } } }] }, true],
  ["not: inverts a passing child", { filters: [{ not: { exact: { region: "eu-west" } } }] }, false],
  [
    "not: a missing attribute fails the child, so not passes",
    { filters: [{ not: { exact: { missing: "x" } } }] },
    true,
  ],
  [
    "nesting: any of (all, not)",
    {
      filters: [
        { any: [{ all: [{ exact: { region: "us" } }] }, { not: { prefix: { type: "org." } } }] },
      ],
    },
    true,
  ],
  [
    "nesting: not of any",
    { filters: [{ not: { any: [{ exact: { region: "us" } }, { suffix: { type: "created" } }] } }] },
    false,
  ],
  [
    "cesql: true expression passes",
    { filters: [{ cesql: "region = 'eu-west' AND priority > 2" }] },
    true,
  ],
  ["cesql: false expression fails", { filters: [{ cesql: "priority > 5" }] }, false],
  [
    "cesql: a missing attribute is an error, so no match",
    { filters: [{ cesql: "missing = 'x' OR true" }] },
    false,
  ],
  ["cesql: non-boolean result is no match", { filters: [{ cesql: "priority" }] }, false],
  [
    "cesql combined with exact",
    { filters: [{ exact: { region: "eu-west" } }, { cesql: "source LIKE '/shop/%'" }] },
    true,
  ],
];

describe("trigger filters follow Knative's semantics", () => {
  it.each(cases)("%s", (_name, spec, expected) => {
    expect(compileFilter(spec, compileCesqlPredicate).match(event)).toBe(expected);
  });

  it.each<[string, TriggerFilterSpec, string | undefined]>([
    ["attributes type pins the type", { filter: { attributes: { type: "a" } } }, "a"],
    ["empty attributes type pins nothing", { filter: { attributes: { type: "" } } }, undefined],
    ["exact type in filters pins the type", { filters: [{ exact: { type: "b" } }] }, "b"],
    [
      "exact type inside all pins the type",
      { filters: [{ all: [{ exact: { type: "c" } }] }] },
      "c",
    ],
    ["type inside any pins nothing", { filters: [{ any: [{ exact: { type: "d" } }] }] }, undefined],
    ["prefix pins nothing", { filters: [{ prefix: { type: "e" } }] }, undefined],
  ])("index hint: %s", (_name, spec, expected) => {
    expect(compileFilter(spec, compileCesqlPredicate).requiredType).toBe(expected);
  });
});
