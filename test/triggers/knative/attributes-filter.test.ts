/**
 * Knative's attributes filter tests, restated for Eventail's `filter.attributes`. Source:
 * knative/eventing pkg/eventfilter/attributes/filter_test.go (TestAttributesFilter_Filter,
 * TestAllSupportedAttributeFieldsV1, TestV03Event), tag knative-v1.22.2, commit
 * 532b01f0cb2ce7bed271204697081e4264385531, Apache License 2.0. Case names are Knative's.
 *
 * Where Eventail deliberately differs (the row's `eventail` says so, and the test asserts it):
 * - TestAllSupportedAttributeFieldsV1: its event has no `time`, and Knative's LookupAttribute reads
 *   the missing time as Go's zero time "0001-01-01T00:00:00Z", so a filter on that text passes (and
 *   `time: ""`, "present", passes too). Eventail reads a missing `time` as missing, like every
 *   other attribute (CONTRACT §4: a missing attribute fails the dialect): that row fails. The
 *   same event with a time set passes (the row after it), so every alias the test covers holds.
 */
import { describe, expect, it } from "vitest";
import { type Attributes, createEvent } from "../../../src/events/event.js";
import { attributesFilter, FAIL, type FilterResult, PASS } from "../../../src/triggers/dialects.js";

const eventType = "com.example.someevent";
const eventSource = "/mycontext";
const extensionName = "myextension";
const extensionValue = "my-extension-value";
const subjectValue = "mysubject";

/** attributes/filter_test.go's makeEvent: no TTL here. */
function makeEvent(extra: Record<string, string> = {}): Attributes {
  return createEvent({
    specversion: "1.0",
    type: eventType,
    source: eventSource,
    id: "1234",
    ...extra,
  }).attributes;
}

const attributes = (type: string, source: string) => ({ type, source });
const withExtension = (type: string, source: string, value: string) => ({
  type,
  source,
  [extensionName]: value,
});
const withSubject = (type: string, source: string, subject: string) => ({
  type,
  source,
  subject,
});

interface Row {
  filter: Record<string, string>;
  event?: Attributes;
  want: FilterResult;
  eventail?: { want: FilterResult; why: string };
}

describe("Knative TestAttributesFilter_Filter", () => {
  it.each<[string, Row]>([
    ["Wrong type", { filter: attributes("some-other-type", ""), want: FAIL }],
    ["Wrong type with attribs", { filter: attributes("some-other-type", ""), want: FAIL }],
    ["Wrong source", { filter: attributes("", "some-other-source"), want: FAIL }],
    ["Wrong source with attribs", { filter: attributes("", "some-other-source"), want: FAIL }],
    ["Wrong extension", { filter: attributes("", "some-other-source"), want: FAIL }],
    ["Any", { filter: attributes("", ""), want: PASS }],
    ["Specific", { filter: attributes(eventType, eventSource), want: PASS }],
    [
      "Extension with attribs",
      {
        filter: withExtension(eventType, eventSource, extensionValue),
        event: makeEvent({ [extensionName]: extensionValue }),
        want: PASS,
      },
    ],
    [
      "Any Extension with attribs - without Extension in Event",
      { filter: withExtension(eventType, eventSource, ""), want: FAIL },
    ],
    [
      "Any Extension with attribs - with Extension in Event",
      {
        filter: withExtension(eventType, eventSource, ""),
        event: makeEvent({ [extensionName]: extensionValue }),
        want: PASS,
      },
    ],
    [
      "Subject with attribs",
      {
        filter: withSubject(eventType, eventSource, subjectValue),
        event: makeEvent({ subject: subjectValue }),
        want: PASS,
      },
    ],
    [
      "Any Subject with attribs - without Subject in Event",
      { filter: withSubject(eventType, eventSource, ""), want: FAIL },
    ],
    [
      "Any Subject with attribs - with Subject in Event",
      {
        filter: withSubject(eventType, eventSource, ""),
        event: makeEvent({ subject: subjectValue }),
        want: PASS,
      },
    ],
    [
      "Any with attribs - Arrival extension",
      {
        filter: attributes("", ""),
        event: makeEvent({ knativearrivaltime: "2019-08-26T23:38:17.834384404Z" }),
        want: PASS,
      },
    ],
    [
      "Wrong Extension with attribs",
      {
        filter: withExtension(eventType, eventSource, "some-other-extension-value"),
        event: makeEvent({ [extensionName]: extensionValue }),
        want: FAIL,
      },
    ],
  ])("%s", (_name, row) => {
    expect(attributesFilter(row.filter)(row.event ?? makeEvent())).toBe(row.want);
  });
});

/** TestAllSupportedAttributeFieldsV1's event and filter (what Go prints for each attribute). */
const allFieldsEvent = (extra: Record<string, string> = {}) =>
  makeEvent({ dataschema: "wow", subject: "cool", datacontenttype: "cheers;mate", ...extra });
const allFieldsFilter = (time: string) => ({
  specversion: "1.0",
  type: eventType,
  source: eventSource,
  subject: "cool",
  id: "1234",
  time,
  dataschema: "wow",
  schemaurl: "wow",
  datacontenttype: "cheers;mate",
  datamediatype: "cheers",
});

describe("Knative TestAllSupportedAttributeFieldsV1 and TestV03Event", () => {
  it.each<[string, Row]>([
    [
      "TestAllSupportedAttributeFieldsV1",
      {
        filter: allFieldsFilter("0001-01-01T00:00:00Z"),
        event: allFieldsEvent(),
        want: PASS,
        eventail: { want: FAIL, why: "a missing time is missing, not Go's zero time" },
      },
    ],
    [
      "TestAllSupportedAttributeFieldsV1, the event given a time (Eventail's companion case)",
      {
        filter: allFieldsFilter("2018-04-05T17:31:00.78Z"),
        event: allFieldsEvent({ time: "2018-04-05T17:31:00.780Z" }),
        want: PASS,
      },
    ],
    [
      "TestV03Event",
      {
        filter: { datacontentencoding: "perfect" },
        event: createEvent({ specversion: "0.3", datacontentencoding: "perfect" }).attributes,
        want: PASS,
      },
    ],
  ])("%s", (_name, row) => {
    expect(attributesFilter(row.filter)(row.event ?? makeEvent())).toBe(
      row.eventail?.want ?? row.want,
    );
  });
});
