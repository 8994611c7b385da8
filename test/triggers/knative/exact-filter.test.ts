/**
 * Knative's exact filter tests, restated for Eventail's `exact` dialect. Source: knative/eventing
 * pkg/eventfilter/subscriptionsapi/exact_filter_test.go (TestExactMatchFilter,
 * TestMultipleExactMatchFilters, TestExactTimeMatchIsStable), tag knative-v1.22.2, commit
 * 532b01f0cb2ce7bed271204697081e4264385531, Apache License 2.0. Case names are Knative's.
 *
 * Eventail deliberately differs from Knative in none of these cases.
 */
import { describe, expect, it } from "vitest";
import type { Attributes } from "../../../src/events/event.js";
import { exactFilter, FAIL, type FilterResult, PASS } from "../../../src/triggers/dialects.js";
import {
  eventSource,
  eventType,
  extensionName,
  extensionValue,
  makeEvent,
  makeEventWithExtension,
} from "./knative-events.js";

interface Row {
  filter: Record<string, string>;
  event?: Attributes;
  want: FilterResult;
}

function run(row: Row): FilterResult {
  const filter = exactFilter(row.filter);
  // Knative's test fails when NewExactFilter returns an error.
  expect(filter).toBeDefined();
  return filter!(row.event ?? makeEvent());
}

describe("Knative TestExactMatchFilter", () => {
  it.each<[string, Row]>([
    ["Wrong type", { filter: { type: "some-other-type" }, want: FAIL }],
    ["Wrong source", { filter: { source: "some-other-source" }, want: FAIL }],
    ["Wrong extension", { filter: { [extensionName]: "some-other-extension" }, want: FAIL }],
    ["Match type", { filter: { type: eventType }, want: PASS }],
    [
      "Match extension",
      {
        filter: { [extensionName]: extensionValue },
        event: makeEventWithExtension(extensionName, extensionValue),
        want: PASS,
      },
    ],
    ["Missing attribute", { filter: { missingattribute: "missingvalue" }, want: FAIL }],
  ])("%s", (_name, row) => {
    expect(run(row)).toBe(row.want);
  });
});

describe("Knative TestMultipleExactMatchFilters", () => {
  it.each<[string, Row]>([
    [
      "Wrong type and source",
      { filter: { type: "some-other-type", source: "some-other-source" }, want: FAIL },
    ],
    [
      "Match type and wrong source",
      { filter: { type: eventType, source: "some-other-source" }, want: FAIL },
    ],
    [
      "Match type and match source",
      { filter: { type: eventType, source: eventSource }, want: PASS },
    ],
    [
      "Match type and miss extension",
      { filter: { type: eventType, [extensionName]: extensionValue }, want: FAIL },
    ],
    [
      "Match type and match extension",
      {
        filter: { type: eventType, [extensionName]: extensionValue },
        event: makeEventWithExtension(extensionName, extensionValue),
        want: PASS,
      },
    ],
  ])("%s", (_name, row) => {
    expect(run(row)).toBe(row.want);
  });
});

describe("Knative TestExactTimeMatchIsStable", () => {
  it("an exact match on the time Go prints for the event passes every time", () => {
    // The SDK's FullEvent time, 2020-03-21T12:34:56.78Z, as a producer may well write it.
    const event = makeEvent({ time: "2020-03-21T12:34:56.780Z" });
    const filter = exactFilter({ time: "2020-03-21T12:34:56.78Z" })!;
    const results = Array.from({ length: 1000 }, () => filter(event));
    expect(results.filter((result) => result !== PASS)).toEqual([]);
  });
});
