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
  urgent: true,
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
  ["exact: missing attribute fails", { filters: [{ exact: { missing: "x" } }] }, false],
  [
    "exact: an empty value makes Knative skip the element, so it matches everything",
    { filters: [{ exact: { missing: "" } }] },
    true,
  ],
  ["prefix: matches", { filters: [{ prefix: { type: "com.example." } }] }, true],
  ["prefix: does not match", { filters: [{ prefix: { type: "org." } }] }, false],
  ["prefix: missing attribute fails", { filters: [{ prefix: { missing: "x" } }] }, false],
  [
    "prefix: an empty prefix makes Knative skip the element, even on a missing attribute",
    { filters: [{ prefix: { missing: "" } }] },
    true,
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
  // Knative's CESQL filter asserts the result is a boolean and panics otherwise (the delivery then
  // fails); Eventail answers no match, as for any evaluation error.
  ["cesql: non-boolean result is no match", { filters: [{ cesql: "priority" }] }, false],
  [
    "cesql combined with exact",
    { filters: [{ exact: { region: "eu-west" } }, { cesql: "source LIKE '/shop/%'" }] },
    true,
  ],
];

/**
 * Cases that fail when one matching rule is swapped for a looser one (exact for prefix, suffix or
 * containment; prefix for suffix; case folding; an empty value read the wrong way). Every one is on
 * an attribute other than `type`, where no type index stands between the event and the filter.
 */
const looserRuleCases: Array<[string, TriggerFilterSpec, boolean]> = [
  [
    "attributes: a strict prefix of the value is no match (context attribute)",
    { filter: { attributes: { source: "/shop" } } },
    false,
  ],
  [
    "attributes: a strict prefix of the value is no match (extension)",
    { filter: { attributes: { region: "eu" } } },
    false,
  ],
  [
    "attributes: a strict suffix of the value is no match",
    { filter: { attributes: { source: "/orders" } } },
    false,
  ],
  [
    "attributes: a value contained in the middle is no match",
    { filter: { attributes: { source: "shop" } } },
    false,
  ],
  [
    "attributes: a longer value that starts with the attribute is no match",
    { filter: { attributes: { region: "eu-west-1" } } },
    false,
  ],
  [
    "attributes: is case-sensitive on extensions",
    { filter: { attributes: { region: "EU-WEST" } } },
    false,
  ],
  [
    "attributes: a boolean extension compares as its string form",
    { filter: { attributes: { urgent: "true" } } },
    true,
  ],
  [
    "attributes: a strict prefix fails even beside a matching type",
    { filter: { attributes: { type: "com.example.order.created", source: "/shop" } } },
    false,
  ],
  [
    "attributes: a strict prefix of type is no match",
    { filter: { attributes: { type: "com.example.order" } } },
    false,
  ],
  [
    "exact: a strict prefix of the value is no match",
    { filters: [{ exact: { source: "/shop" } }] },
    false,
  ],
  [
    "exact: a strict prefix of an extension is no match",
    { filters: [{ exact: { region: "eu" } }] },
    false,
  ],
  [
    "exact: a strict suffix of the value is no match",
    { filters: [{ exact: { source: "/orders" } }] },
    false,
  ],
  [
    "exact: a value contained in the middle is no match",
    { filters: [{ exact: { source: "shop" } }] },
    false,
  ],
  [
    "exact: a longer value that starts with the attribute is no match",
    { filters: [{ exact: { source: "/shop/orders/1" } }] },
    false,
  ],
  [
    "exact: a strict prefix fails even beside a matching type",
    { filters: [{ exact: { type: "com.example.order.created", source: "/shop" } }] },
    false,
  ],
  [
    "exact: a strict prefix of type is no match",
    { filters: [{ exact: { type: "com.example.order" } }] },
    false,
  ],
  [
    "exact: the whole value of an extension matches",
    { filters: [{ exact: { region: "eu-west" } }] },
    true,
  ],
  [
    "exact: is case-sensitive on extensions",
    { filters: [{ exact: { region: "EU-WEST" } }] },
    false,
  ],
  [
    "exact: an empty value skips the element, so an empty attribute passes (unlike filter.attributes)",
    { filters: [{ exact: { subject: "" } }] },
    true,
  ],
  [
    "exact: an empty value skips the element, so a non-empty attribute passes too",
    { filters: [{ exact: { region: "" } }] },
    true,
  ],
  [
    "exact: one empty value skips the whole element, its other attributes unread",
    { filters: [{ exact: { region: "us", source: "" } }] },
    true,
  ],
  [
    "exact: an integer extension compares as its string form",
    { filters: [{ exact: { priority: "3" } }] },
    true,
  ],
  [
    "exact: several attributes are ANDed (one is a strict prefix)",
    { filters: [{ exact: { region: "eu-west", source: "/shop" } }] },
    false,
  ],
  [
    "prefix: the whole value is its own prefix",
    { filters: [{ prefix: { source: "/shop/orders" } }] },
    true,
  ],
  [
    "prefix: a longer value than the attribute is no match",
    { filters: [{ prefix: { source: "/shop/orders/1" } }] },
    false,
  ],
  [
    "prefix: a suffix of the value is no match",
    { filters: [{ prefix: { source: "orders" } }] },
    false,
  ],
  [
    "prefix: a value in the middle is no match",
    { filters: [{ prefix: { source: "shop" } }] },
    false,
  ],
  ["prefix: is case-sensitive", { filters: [{ prefix: { region: "EU" } }] }, false],
  [
    "prefix: an empty prefix skips the element (a present value passes)",
    { filters: [{ prefix: { region: "" } }] },
    true,
  ],
  [
    "prefix: an empty prefix skips the element (an empty attribute passes)",
    { filters: [{ prefix: { subject: "" } }] },
    true,
  ],
  [
    "prefix: several attributes are ANDed (one fails)",
    { filters: [{ prefix: { region: "eu", source: "/warehouse" } }] },
    false,
  ],
  [
    "suffix: the whole value is its own suffix",
    { filters: [{ suffix: { region: "eu-west" } }] },
    true,
  ],
  [
    "suffix: a prefix of the value is no match",
    { filters: [{ suffix: { source: "/shop" } }] },
    false,
  ],
  [
    "suffix: a value in the middle is no match",
    { filters: [{ suffix: { source: "shop" } }] },
    false,
  ],
  [
    "suffix: a longer value than the attribute is no match",
    { filters: [{ suffix: { region: "x-eu-west" } }] },
    false,
  ],
  ["suffix: is case-sensitive", { filters: [{ suffix: { region: "WEST" } }] }, false],
  [
    "suffix: an empty suffix skips the element (a present value passes)",
    { filters: [{ suffix: { region: "" } }] },
    true,
  ],
  [
    "suffix: an empty suffix skips the element (an empty attribute passes)",
    { filters: [{ suffix: { subject: "" } }] },
    true,
  ],
  [
    "element: of two dialects (validation refuses them) only the first in Knative's order counts",
    { filters: [{ exact: { region: "eu-west" }, suffix: { source: "/shop" } }] },
    true,
  ],
  [
    "element: an empty exact map is no dialect, so the prefix beside it counts",
    { filters: [{ exact: {}, prefix: { source: "/nope" } }] },
    false,
  ],
  ["element: an empty element matches everything", { filters: [{}] }, true],
  ["all: an empty list matches everything", { filters: [{ all: [] }] }, true],
  ["any: an empty list matches everything", { filters: [{ any: [] }] }, true],
  [
    "any: children on missing attributes all fail, so any fails",
    { filters: [{ any: [{ exact: { missing: "x" } }, { prefix: { absent: "" } }] }] },
    false,
  ],
  [
    "any: a strict prefix child fails, the exact child passes",
    { filters: [{ any: [{ exact: { source: "/shop" } }, { exact: { region: "eu-west" } }] }] },
    true,
  ],
  [
    "not: a strict prefix in exact fails the child, so not passes",
    { filters: [{ not: { exact: { source: "/shop" } } }] },
    true,
  ],
  [
    "not: of an element with two dialects inverts only the first in Knative's order",
    { filters: [{ not: { exact: { region: "eu-west" }, prefix: { source: "/nope" } } }] },
    false,
  ],
  [
    "not: double negation restores the verdict",
    { filters: [{ not: { not: { exact: { region: "eu-west" } } } }] },
    true,
  ],
  [
    "cesql: division by zero is an error, so no match",
    { filters: [{ cesql: "priority / 0 = 0" }] },
    false,
  ],
  [
    "cesql: an error inside NOT is still no match",
    { filters: [{ cesql: "NOT (missing = 'x')" }] },
    false,
  ],
  [
    "cesql: beside an exact in one element (validation refuses it) is never evaluated",
    { filters: [{ exact: { region: "eu-west" }, cesql: "missing = 'x'" }] },
    true,
  ],
  [
    "cesql: an extension and a context attribute read alike",
    { filters: [{ cesql: "region = 'eu-west' AND source = '/shop/orders'" }] },
    true,
  ],
  [
    "cesql: = is exact, a strict prefix is no match",
    { filters: [{ cesql: "source = '/shop'" }] },
    false,
  ],
];

describe("trigger filters follow Knative's semantics", () => {
  it.each(cases)("%s", (_name, spec, expected) => {
    expect(compileFilter(spec, compileCesqlPredicate).match(event)).toBe(expected);
  });

  it.each(looserRuleCases)("%s", (_name, spec, expected) => {
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
    [
      "type inside an any whose every child pins it pins it",
      { filters: [{ any: [{ exact: { type: "d" } }, { all: [{ exact: { type: "d" } }] }] }] },
      "d",
    ],
    [
      "an any with one child that pins nothing pins nothing",
      { filters: [{ any: [{ exact: { type: "d" } }, { prefix: { type: "d" } }] }] },
      undefined,
    ],
    [
      "an any whose children pin two types pins nothing",
      { filters: [{ any: [{ exact: { type: "d" } }, { exact: { type: "f" } }] }] },
      undefined,
    ],
    [
      "a multi-attribute exact pins its type",
      { filters: [{ exact: { source: "/a", type: "g", region: "eu" } }] },
      "g",
    ],
    [
      "an exact skipped for an empty value pins nothing",
      { filters: [{ exact: { type: "h", source: "" } }] },
      undefined,
    ],
    ["an empty exact type pins nothing", { filters: [{ exact: { type: "" } }] }, undefined],
    [
      "an exact type under not pins nothing",
      { filters: [{ not: { exact: { type: "i" } } }] },
      undefined,
    ],
    [
      "an exact on type and the schemaurl alias pins the type",
      { filters: [{ exact: { type: "j", schemaurl: "https://s" } }] },
      "j",
    ],
    ["prefix pins nothing", { filters: [{ prefix: { type: "e" } }] }, undefined],
  ])("index hint: %s", (_name, spec, expected) => {
    expect(compileFilter(spec, compileCesqlPredicate).requiredType).toBe(expected);
  });
});
