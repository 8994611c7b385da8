/**
 * Knative's all filter tests, restated for Eventail's `all` combinator. Source: knative/eventing
 * pkg/eventfilter/subscriptionsapi/all_filter_test.go (TestAllFilter_Flat,
 * TestAllFilter_WithNestedAll), tag knative-v1.22.2, commit
 * 532b01f0cb2ce7bed271204697081e4264385531, Apache License 2.0. Case names are Knative's.
 * Pass and Fail are Knative's stub filters (passFilter, failFilter).
 *
 * Eventail deliberately differs from Knative in none of these cases.
 */
import { describe, expect, it } from "vitest";
import {
  allOf,
  type EventFilter,
  FAIL,
  type FilterResult,
  NO_FILTER,
  PASS,
} from "../../../src/triggers/dialects.js";
import { failFilter as Fail, makeEvent, passFilter as Pass } from "./knative-events.js";

const All = (...children: EventFilter[]) => allOf(children);

describe("Knative TestAllFilter_Flat", () => {
  it.each<[string, EventFilter, FilterResult]>([
    ["Empty", All(), NO_FILTER],
    ["One Pass", All(Pass), PASS],
    ["One Fail", All(Fail), FAIL],
    ["Pass and Fail", All(Pass, Fail), FAIL],
    ["Pass and Pass", All(Pass, Pass), PASS],
    ["Fail and Fail", All(Fail, Fail), FAIL],
  ])("%s", (_name, filter, want) => {
    expect(filter(makeEvent())).toBe(want);
  });
});

describe("Knative TestAllFilter_WithNestedAll", () => {
  it.each<[string, EventFilter, FilterResult]>([
    ["All(All(Pass))", All(All(Pass)), PASS],
    ["All(All(Fail))", All(All(Fail)), FAIL],
    ["All(Pass,All(Fail))", All(Pass, All(Fail)), FAIL],
    ["All(Pass,All(Pass))", All(Pass, All(Pass)), PASS],
    ["All(Fail,All(Fail))", All(Fail, All(Fail)), FAIL],
    ["All(Fail,All(Pass))", All(Fail, All(Pass)), FAIL],
    ["All(Pass,All(Pass,Fail))", All(Pass, All(Pass, Fail)), FAIL],
    ["All(Pass,All(Pass,Pass))", All(Pass, All(Pass, Pass)), PASS],
    ["All(Pass,All(Fail,Fail))", All(Pass, All(Fail, Fail)), FAIL],
    ["All(Fail,All(Pass,Fail))", All(Fail, All(Pass, Fail)), FAIL],
    ["All(Fail,All(Pass,Pass))", All(Fail, All(Pass, Pass)), FAIL],
    ["All(Fail,All(Fail,Fail))", All(Fail, All(Fail, Fail)), FAIL],
  ])("%s", (_name, filter, want) => {
    expect(filter(makeEvent())).toBe(want);
  });
});
