/**
 * Knative's CESQL filter tests, restated for Eventail's `cesql` dialect. Source: knative/eventing
 * pkg/eventfilter/subscriptionsapi/cesql_filter_test.go (TestCESQLFilter), tag knative-v1.22.2,
 * commit 532b01f0cb2ce7bed271204697081e4264385531, Apache License 2.0. Case names are Knative's.
 *
 * Eventail deliberately differs from Knative in none of these cases. Note "Match numeric
 * extension": the filter as built here sees the TTL the event carries, as Knative's unit test
 * does; a broker's trigger never sees it, in Knative (its filter handler deletes the TTL first) and
 * in Eventail (test/broker/trigger-filter.test.ts).
 */
import { describe, expect, it } from "vitest";
import type { Attributes } from "../../../src/events/event.js";
import { cesqlFilter } from "../../../src/triggers/cesql-filter.js";
import { FAIL, type FilterResult, NO_FILTER, PASS } from "../../../src/triggers/dialects.js";
import {
  eventTTLName,
  eventType,
  extensionName,
  extensionValue,
  makeEvent,
  makeEventWithExtension,
} from "./knative-events.js";

describe("Knative TestCESQLFilter", () => {
  it.each<[string, { expression: string; event?: Attributes; want: FilterResult }]>([
    ["Missing expression", { expression: "", want: NO_FILTER }],
    ["Wrong type", { expression: "type = 'wrong.type'", want: FAIL }],
    ["Wrong extension prefix", { expression: `${extensionName} = 'wrong.extension'`, want: FAIL }],
    ["Match type", { expression: `type = '${eventType}'`, want: PASS }],
    [
      "Match extension",
      {
        expression: `${extensionName} = '${extensionValue}'`,
        event: makeEventWithExtension(extensionName, extensionValue),
        want: PASS,
      },
    ],
    ["Match numeric extension", { expression: `${eventTTLName} < 30`, want: PASS }],
    [
      "Match type OR Source",
      { expression: `(type = '${eventType}') OR (source = 'some-other-source')`, want: PASS },
    ],
    ["Missing attribute less than comparison", { expression: "missingattribute < 5", want: FAIL }],
    [
      "Missing attribute equals comparison",
      { expression: "missingattribute = missinsvalue", want: FAIL },
    ],
  ])("%s", (_name, row) => {
    expect(cesqlFilter(row.expression)(row.event ?? makeEvent())).toBe(row.want);
  });
});
