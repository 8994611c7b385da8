/**
 * The filter cases of Knative Eventing's trigger validation tests, translated to Eventail
 * manifests. Source: knative/eventing pkg/apis/eventing/v1/trigger_validation_test.go
 * (TestTriggerSpecValidation's filter cases and TestFilterSpecValidation) at tag knative-v1.22.2,
 * commit 532b01f0cb2ce7bed271204697081e4264385531, Apache License 2.0. The cases are restated as
 * facts (a spec and the verdict); case names are Knative's.
 *
 * Translation: Knative's `want` is a FieldError; here an invalid case names the one field path
 * Eventail reports and a fragment of its message (Eventail's wording, Knative's path), a valid case
 * reports nothing. Knative's `0invalid` key path `filters[0].exact.0invalid` is Eventail's
 * `spec.filters[0].exact[0invalid]` (keys that are not identifiers are bracketed).
 * A Go struct field left nil (`All: nil`) is a YAML field left out.
 *
 * Eventail deliberately differs from Knative in none of these cases. The cases of
 * TestTriggerSpecValidationWithCrossNamespaceEventLinksFeatureEnabled repeat the filter cases of
 * TestTriggerSpecValidation word for word and are not repeated here.
 */
import { describe, expect, it } from "vitest";
import { expectIssue, issuesWith, trigger } from "./validate-harness.js";

const NAME_RULE = "must start with a lower-case letter and hold only lower-case letters and digits";

/** `validSubscriptionAPIFilter` of the Knative test file. */
const VALID_EXACT = "exact: {type: other_type}";

/** A Knative case: its name, the trigger's filter lines, and the expected issue if any. */
type Case = [name: string, spec: string, issue?: { path: string; fragment: string }];

const filtersOf = (...elements: string[]) =>
  `  filters:\n${elements.map((element) => `    - ${element}\n`).join("")}`;

const TRIGGER_SPEC_VALIDATION: Case[] = [
  ["missing attributes keys, match all", "  filter: {}\n"],
  [
    "invalid attribute name, start with number",
    "  filter:\n    attributes:\n      0invalid: my-value\n",
    { path: "spec.filter.attributes[0invalid]", fragment: NAME_RULE },
  ],
  [
    "invalid attribute name, capital letters",
    "  filter:\n    attributes:\n      invALID: my-value\n",
    { path: "spec.filter.attributes.invALID", fragment: NAME_RULE },
  ],
  ["valid empty filter", "  filter: {}\n"],
  [
    "valid SourceAndType filter",
    "  filter:\n    attributes: {type: other_type, source: other_source}\n",
  ],
  [
    "valid Attributes filter",
    "  filter:\n    attributes: {type: other_type, source: other_source}\n",
  ],
];

const FILTER_SPEC_VALIDATION: Case[] = [
  ["missing filters, match all", ""],
  [
    "invalid exact filter attribute name, start with number",
    filtersOf("exact: {0invalid: some-value}"),
    { path: "spec.filters[0].exact[0invalid]", fragment: NAME_RULE },
  ],
  [
    "invalid exact filter attribute name, capital letters",
    filtersOf("exact: {invALID: some-value}"),
    { path: "spec.filters[0].exact.invALID", fragment: NAME_RULE },
  ],
  ["valid empty filter", "  filter: {}\n"],
  [
    "valid SourceAndType filter",
    "  filter:\n    attributes: {type: other_type, source: other_source}\n",
  ],
  [
    "invalid multiple dialects",
    filtersOf("{exact: {myext: abc}, suffix: {myext: abc}}"),
    { path: "spec.filters[0]", fragment: "multiple dialects set (exact, suffix)" },
  ],
  [
    "valid Attributes filter",
    "  filter:\n    attributes: {type: other_type, source: other_source}\n",
  ],
  [
    "valid exact filter containing more than one attribute",
    filtersOf("exact: {myext: abc, anotherext: xyz}"),
  ],
  ["valid exact filter", filtersOf("exact: {valid: abc}")],
  [
    "valid suffix filter containing more than one attribute",
    filtersOf("suffix: {myext: abc, anotherext: xyz}"),
  ],
  [
    "suffix filter contains invalid attribute name",
    filtersOf("suffix: {invALID: abc}"),
    { path: "spec.filters[0].suffix.invALID", fragment: NAME_RULE },
  ],
  ["valid suffix filter", filtersOf("suffix: {valid: abc}")],
  [
    "valid prefix filter containing more than one attribute",
    filtersOf("prefix: {myext: abc, anotherext: xyz}"),
  ],
  [
    "prefix filter contains invalid attribute name",
    filtersOf("prefix: {invALID: abc}"),
    { path: "spec.filters[0].prefix.invALID", fragment: NAME_RULE },
  ],
  ["valid prefix filter", filtersOf("prefix: {valid: abc}")],
  ["not nested expression is valid", filtersOf(`not: {${VALID_EXACT}}`)],
  [
    "not nested expression is invalid",
    filtersOf("not: {prefix: {invALID: abc}}"),
    { path: "spec.filters[0].not.prefix.invALID", fragment: NAME_RULE },
  ],
  ["all filter is nil", filtersOf("{}")],
  ["all filter is valid", filtersOf(`all: [{${VALID_EXACT}}, {exact: {myattr: myval}}]`)],
  [
    "all filter sub expression is invalid",
    filtersOf(`all: [{${VALID_EXACT}}, {exact: {myattr: myval}}, {prefix: {invALID: abc}}]`),
    { path: "spec.filters[0].all[2].prefix.invALID", fragment: NAME_RULE },
  ],
  ["any filter is valid", filtersOf(`any: [{${VALID_EXACT}}, {exact: {myattr: myval}}]`)],
  [
    "any filter sub expression is invalid",
    filtersOf(`any: [{${VALID_EXACT}}, {exact: {myattr: myval}}, {prefix: {invALID: abc}}]`),
    { path: "spec.filters[0].any[2].prefix.invALID", fragment: NAME_RULE },
  ],
  [
    "CE SQL with syntax error",
    filtersOf('cesql: "this is wrong"'),
    { path: "spec.filters[0].cesql", fragment: "invalid CESQL expression" },
  ],
  ["Valid CE SQL expression", filtersOf(`cesql: "type = 'dev.knative' AND ttl < 3"`)],
];

/**
 * What trigger_validation.go accepts or refuses beyond its own test table, read from the code:
 * hasMultipleDialects counts a dialect only when its map or list is non-empty, its `not` is there
 * or its cesql is non-empty, and ValidateCESQLExpression skips "".
 */
const FROM_KNATIVE_CODE: Case[] = [
  ["an element with no dialect", filtersOf("{}")],
  ["an empty all", filtersOf("all: []")],
  ["an empty any", filtersOf("any: []")],
  ["a not of an empty filter", filtersOf("not: {}")],
  ['an empty cesql ""', filtersOf('cesql: ""')],
  ["an exact with an empty value (only names are checked)", filtersOf('exact: {type: ""}')],
  [
    "an empty exact map beside a prefix (one dialect set)",
    filtersOf("{exact: {}, prefix: {a: b}}"),
  ],
  ["an empty all beside a not (one dialect set)", filtersOf("{all: [], not: {exact: {a: b}}}")],
  [
    "a not of an empty filter beside a cesql is two dialects",
    filtersOf("{not: {}, cesql: \"type = 'a'\"}"),
    { path: "spec.filters[0]", fragment: "multiple dialects set (not, cesql)" },
  ],
  [
    "two dialects nested in an any",
    filtersOf("any: [{exact: {a: b}, prefix: {c: d}}]"),
    { path: "spec.filters[0].any[0]", fragment: "multiple dialects set (exact, prefix)" },
  ],
];

async function verdict(spec: string, issue: Case[2]): Promise<void> {
  const manifest = trigger(spec);
  if (issue === undefined) expect(await issuesWith(manifest)).toEqual([]);
  else await expectIssue(manifest, issue.path, issue.fragment);
}

describe("Knative TestTriggerSpecValidation (filter cases)", () => {
  it.each(TRIGGER_SPEC_VALIDATION)("%s", async (_name, spec, issue) => {
    await verdict(spec, issue);
  });
});

describe("Knative TestFilterSpecValidation", () => {
  it.each(FILTER_SPEC_VALIDATION)("%s", async (_name, spec, issue) => {
    await verdict(spec, issue);
  });
});

describe("trigger_validation.go beyond its tests", () => {
  it.each(FROM_KNATIVE_CODE)("%s", async (_name, spec, issue) => {
    await verdict(spec, issue);
  });
});
