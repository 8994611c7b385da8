/**
 * Knative's not and no-filter tests, restated for Eventail's combinators. Sources: knative/eventing
 * pkg/eventfilter/subscriptionsapi/not_filter_test.go (TestNotFilter) and no_filter_test.go
 * (TestNoFilter), tag knative-v1.22.2, commit 532b01f0cb2ce7bed271204697081e4264385531, Apache
 * License 2.0. Case names are Knative's. Pass and Fail are Knative's stub filters.
 *
 * Eventail deliberately differs from Knative in none of these cases.
 */
import { describe, expect, it } from "vitest";
import {
  type EventFilter,
  FAIL,
  type FilterResult,
  NO_FILTER,
  noFilter,
  notOf,
  PASS,
} from "../../../src/triggers/dialects.js";
import { failFilter, makeEvent, passFilter } from "./knative-events.js";

describe("Knative TestNotFilter", () => {
  it.each<[string, EventFilter, FilterResult]>([
    // `&notFilter{}`: a not with no filter inside.
    ["Empty", notOf(undefined), NO_FILTER],
    ["Not Pass", notOf(passFilter), FAIL],
    ["Not Fail", notOf(failFilter), PASS],
  ])("%s", (_name, filter, want) => {
    expect(filter(makeEvent())).toBe(want);
  });
});

describe("Knative TestNoFilter", () => {
  it.each<[string, EventFilter, FilterResult]>([["no filter", noFilter, NO_FILTER]])(
    "%s",
    (_name, filter, want) => {
      expect(filter(makeEvent())).toBe(want);
    },
  );
});
