/**
 * Knative's suffix filter tests, restated for Eventail's `suffix` dialect. Source: knative/eventing
 * pkg/eventfilter/subscriptionsapi/suffix_filter_test.go (TestSuffixFilter,
 * TestMultipleSuffixFilters), tag knative-v1.22.2, commit
 * 532b01f0cb2ce7bed271204697081e4264385531, Apache License 2.0. Case names are Knative's.
 *
 * Eventail deliberately differs from Knative in none of these cases.
 */
import { describe, expect, it } from "vitest";
import type { Attributes } from "../../../src/events/event.js";
import { FAIL, type FilterResult, PASS, suffixFilter } from "../../../src/triggers/dialects.js";
import {
  extensionName,
  extensionValue,
  makeEvent,
  makeEventWithExtension,
} from "./knative-events.js";

const eventTypeSuffix = ".knative.example";
const eventSourceSuffix = "source";
const extensionValueSuffix = "extension-value";

interface Row {
  filter: Record<string, string>;
  event?: Attributes;
  want: FilterResult;
}

function run(row: Row): FilterResult {
  const filter = suffixFilter(row.filter);
  expect(filter).toBeDefined();
  return filter!(row.event ?? makeEvent());
}

describe("Knative TestSuffixFilter", () => {
  it.each<[string, Row]>([
    // Knative names the attribute "some-other-attribute"; no event can carry a dash in a name.
    ["Missing attribute", { filter: { "some-other-attribute": "wrong.suffix" }, want: FAIL }],
    ["Wrong type suffix", { filter: { type: "wrong.suffix" }, want: FAIL }],
    ["Wrong source suffix", { filter: { source: "wrong.suffix" }, want: FAIL }],
    ["Wrong extension suffix", { filter: { [extensionName]: "wrong.suffix" }, want: FAIL }],
    ["Match type suffix", { filter: { type: eventTypeSuffix }, want: PASS }],
    [
      "Match extension suffix",
      {
        filter: { [extensionName]: extensionValueSuffix },
        event: makeEventWithExtension(extensionName, extensionValue),
        want: PASS,
      },
    ],
  ])("%s", (_name, row) => {
    expect(run(row)).toBe(row.want);
  });
});

describe("Knative TestMultipleSuffixFilters", () => {
  it.each<[string, Row]>([
    [
      "Wrong type and source",
      { filter: { type: "wrong.suffix", source: "wrong.suffix" }, want: FAIL },
    ],
    [
      "Match type and wrong source",
      { filter: { type: eventTypeSuffix, source: "wrong.suffix" }, want: FAIL },
    ],
    [
      "Match type and match source",
      { filter: { type: eventTypeSuffix, source: eventSourceSuffix }, want: PASS },
    ],
    [
      "Match type and missing extension",
      { filter: { type: eventTypeSuffix, [extensionName]: "attri.suffix" }, want: FAIL },
    ],
    [
      "Match type and match extension",
      {
        filter: { type: eventTypeSuffix, [extensionName]: extensionValueSuffix },
        event: makeEventWithExtension(extensionName, extensionValue),
        want: PASS,
      },
    ],
  ])("%s", (_name, row) => {
    expect(run(row)).toBe(row.want);
  });
});
