import { describe, expect, it } from "vitest";
import { createEvent } from "../../src/events/event.js";
import { compileCesqlPredicate } from "../../src/triggers/cesql-filter.js";
import { compileFilter, NO_FILTER, type TriggerFilterSpec } from "../../src/triggers/filter.js";

const event = createEvent({
  specversion: "1.0",
  id: "1",
  source: "/s",
  type: "t",
  region: "eu-west",
});

/**
 * Knative's filters answer Pass, Fail or NoFilter ("nothing to say": `not` of an empty filter, an
 * all/any whose elements all materialize to nothing). A trigger delivers on anything but Fail; in
 * an `any` that no child passes, the last child's answer stands, so where NoFilter sits matters.
 */
const noFilterCases: Array<[string, TriggerFilterSpec, boolean]> = [
  ["not of an empty filter alone delivers", { filters: [{ not: {} }] }, true],
  ["not of not of an empty filter still delivers", { filters: [{ not: { not: {} } }] }, true],
  [
    "any: a failing child, then not of an empty filter (last says nothing) delivers",
    { filters: [{ any: [{ exact: { region: "us" } }, { not: {} }] }] },
    true,
  ],
  [
    "any: not of an empty filter, then a failing child (last fails) does not deliver",
    { filters: [{ any: [{ not: {} }, { exact: { region: "us" } }] }] },
    false,
  ],
  [
    "all: a failing child fails whatever says nothing beside it",
    { filters: [{ all: [{ not: {} }, { exact: { region: "us" } }] }] },
    false,
  ],
  [
    "an all of elements that are all skipped says nothing, so any ending with it delivers",
    { filters: [{ any: [{ exact: { region: "us" } }, { all: [{}, { cesql: "" }] }] }] },
    true,
  ],
  [
    "filters of skipped elements only override filter.attributes and deliver",
    { filter: { attributes: { type: "nope" } }, filters: [{}] },
    true,
  ],
];

describe("NoFilter: what a filter with nothing to say does to a trigger", () => {
  it.each(noFilterCases)("%s", (_name, spec, expected) => {
    expect(compileFilter(spec, compileCesqlPredicate).match(event)).toBe(expected);
  });

  it.each<[string, TriggerFilterSpec]>([
    ["not of an empty filter", { filters: [{ not: {} }] }],
    ["an element with no dialect", { filters: [{}] }],
    ["an empty all and an empty any", { filters: [{ all: [] }, { any: [] }] }],
    ["a Trigger with no filter at all", {}],
  ])("%s answers NoFilter, not Pass", (_name, spec) => {
    expect(compileFilter(spec, compileCesqlPredicate).result(event)).toBe(NO_FILTER);
  });
});
