/**
 * Knative's prefix filter tests, restated for Eventail's `prefix` dialect. Source: knative/eventing
 * pkg/eventfilter/subscriptionsapi/prefix_filter_test.go (TestPrefixFilter,
 * TestMultiplePrefixFilters), tag knative-v1.22.2, commit
 * 532b01f0cb2ce7bed271204697081e4264385531, Apache License 2.0. Case names are Knative's.
 *
 * Eventail deliberately differs from Knative in none of these cases.
 */
import { describe, expect, it } from "vitest";
import type { Attributes } from "../../../src/events/event.js";
import { FAIL, type FilterResult, PASS, prefixFilter } from "../../../src/triggers/dialects.js";
import {
  extensionName,
  extensionValue,
  makeEvent,
  makeEventWithExtension,
} from "./knative-events.js";

const eventTypePrefix = "dev.knative";
const eventSourcePrefix = "knative";
const extensionValuePrefix = "my-extension";

interface Row {
  filter: Record<string, string>;
  event?: Attributes;
  want: FilterResult;
}

function run(row: Row): FilterResult {
  const filter = prefixFilter(row.filter);
  expect(filter).toBeDefined();
  return filter!(row.event ?? makeEvent());
}

describe("Knative TestPrefixFilter", () => {
  it.each<[string, Row]>([
    // Knative names the attribute "some-other-attribute"; no event can carry a dash in a name.
    ["Missing attribute", { filter: { "some-other-attribute": "wrong.prefix" }, want: FAIL }],
    ["Wrong type prefix", { filter: { type: "wrong.prefix" }, want: FAIL }],
    ["Wrong source prefix", { filter: { source: "wrong.prefix" }, want: FAIL }],
    ["Wrong extension prefix", { filter: { [extensionName]: "wrong.prefix" }, want: FAIL }],
    ["Match type prefix", { filter: { type: eventTypePrefix }, want: PASS }],
    [
      "Match extension prefix",
      {
        filter: { [extensionName]: extensionValuePrefix },
        event: makeEventWithExtension(extensionName, extensionValue),
        want: PASS,
      },
    ],
  ])("%s", (_name, row) => {
    expect(run(row)).toBe(row.want);
  });
});

describe("Knative TestMultiplePrefixFilters", () => {
  it.each<[string, Row]>([
    [
      "Wrong type and source",
      { filter: { type: "wrong.prefix", source: "wrong.prefix" }, want: FAIL },
    ],
    [
      "Match type and wrong source",
      { filter: { type: eventTypePrefix, source: "wrong.prefix" }, want: FAIL },
    ],
    [
      "Match type and match source",
      { filter: { type: eventTypePrefix, source: eventSourcePrefix }, want: PASS },
    ],
    [
      "Match type and missing extension",
      { filter: { type: eventTypePrefix, [extensionName]: "attri.prefix" }, want: FAIL },
    ],
    [
      "Match type and match extension",
      {
        filter: { type: eventTypePrefix, [extensionName]: extensionValuePrefix },
        event: makeEventWithExtension(extensionName, extensionValue),
        want: PASS,
      },
    ],
  ])("%s", (_name, row) => {
    expect(run(row)).toBe(row.want);
  });
});
