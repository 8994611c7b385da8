/**
 * Knative's any filter tests, restated for Eventail's `any` combinator. Source: knative/eventing
 * pkg/eventfilter/subscriptionsapi/any_filter_test.go (TestAnyFilter_Flat,
 * TestAnyFilter_WithNestedAny), tag knative-v1.22.2, commit
 * 532b01f0cb2ce7bed271204697081e4264385531, Apache License 2.0. Case names are Knative's.
 * Pass and Fail are Knative's stub filters (passFilter, failFilter).
 *
 * Eventail deliberately differs from Knative in none of these cases. (Knative reorders `any`'s
 * children at run time by how often each passes, which can change the verdict only where a child
 * has nothing to say (NoFilter); none of these cases has one. Eventail keeps the written order.)
 */
import { describe, expect, it } from "vitest";
import {
  anyOf,
  type EventFilter,
  FAIL,
  type FilterResult,
  NO_FILTER,
  PASS,
} from "../../../src/triggers/dialects.js";
import { failFilter as Fail, makeEvent, passFilter as Pass } from "./knative-events.js";

const Any = (...children: EventFilter[]) => anyOf(children);

describe("Knative TestAnyFilter_Flat", () => {
  it.each<[string, EventFilter, FilterResult]>([
    ["Empty", Any(), NO_FILTER],
    ["One Pass", Any(Pass), PASS],
    ["One Fail", Any(Fail), FAIL],
    ["Pass and Fail", Any(Pass, Fail), PASS],
    ["Pass and Pass", Any(Pass, Pass), PASS],
    ["Fail and Fail", Any(Fail, Fail), FAIL],
  ])("%s", (_name, filter, want) => {
    expect(filter(makeEvent())).toBe(want);
  });
});

describe("Knative TestAnyFilter_WithNestedAny", () => {
  it.each<[string, EventFilter, FilterResult]>([
    ["Any(Any(Pass))", Any(Any(Pass)), PASS],
    ["Any(Any(Fail))", Any(Any(Fail)), FAIL],
    ["Any(Pass,Any(Fail))", Any(Pass, Any(Fail)), PASS],
    ["Any(Pass,Any(Pass))", Any(Pass, Any(Pass)), PASS],
    ["Any(Fail,Any(Fail))", Any(Fail, Any(Fail)), FAIL],
    ["Any(Fail,Any(Pass))", Any(Fail, Any(Pass)), PASS],
    ["Any(Pass,Any(Pass,Fail))", Any(Pass, Any(Pass, Fail)), PASS],
    ["Any(Pass,Any(Pass,Pass))", Any(Pass, Any(Pass, Pass)), PASS],
    ["Any(Pass,Any(Fail,Fail))", Any(Pass, Any(Fail, Fail)), PASS],
    ["Any(Fail,Any(Pass,Fail))", Any(Fail, Any(Pass, Fail)), PASS],
    ["Any(Fail,Any(Pass,Pass))", Any(Fail, Any(Pass, Pass)), PASS],
    ["Any(Fail,Any(Fail,Fail))", Any(Fail, Any(Fail, Fail)), FAIL],
  ])("%s", (_name, filter, want) => {
    expect(filter(makeEvent())).toBe(want);
  });
});
