import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Attributes, createEvent } from "../../src/events/event.js";
import { canonicalTime, lookupAttribute } from "../../src/triggers/attribute-lookup.js";
import { cesqlFilter } from "../../src/triggers/cesql-filter.js";
import { FAIL, type FilterResult, PASS } from "../../src/triggers/dialects.js";

describe("canonicalTime: time as Knative's filters print it (Go RFC3339Nano, UTC)", () => {
  it.each([
    ["trailing zeros of the fraction go", "2018-04-05T17:31:00.780Z", "2018-04-05T17:31:00.78Z"],
    ["an all-zero fraction goes with its dot", "2018-04-05T17:31:00.000Z", "2018-04-05T17:31:00Z"],
    ["no fraction stays none", "2018-04-05T17:31:00Z", "2018-04-05T17:31:00Z"],
    ["an offset is turned into UTC", "2018-04-05T18:31:00.78+01:00", "2018-04-05T17:31:00.78Z"],
    ["a half-hour offset too", "2018-04-05T00:10:00-00:30", "2018-04-05T00:40:00Z"],
    ["+00:00 prints as Z", "2018-04-05T17:31:00+00:00", "2018-04-05T17:31:00Z"],
    ["-00:00 prints as Z", "2018-04-05T17:31:00-00:00", "2018-04-05T17:31:00Z"],
    ["an offset can move the date", "2018-12-31T23:30:00-01:00", "2019-01-01T00:30:00Z"],
    [
      "more than nine fraction digits are cut to nanoseconds",
      "2018-04-05T17:31:00.1234567891Z",
      "2018-04-05T17:31:00.123456789Z",
    ],
    ["nanoseconds are kept", "2018-04-05T17:31:00.000000001Z", "2018-04-05T17:31:00.000000001Z"],
    ["a year below 100 keeps its digits", "0099-01-01T00:00:00Z", "0099-01-01T00:00:00Z"],
    ["29 February of a leap year is a date", "2000-02-29T12:00:00Z", "2000-02-29T12:00:00Z"],
  ])("%s", (_name, input, expected) => {
    expect(canonicalTime(input)).toBe(expected);
  });

  it.each([
    ["29 February of a common year", "2001-02-29T00:00:00Z"],
    ["31 April", "2018-04-31T00:00:00Z"],
    ["hour 24", "2018-04-05T24:00:00Z"],
    ["second 60", "2018-04-05T23:59:60Z"],
    ["an offset hour of 24", "2018-04-05T12:00:00+24:00"],
    ["lower-case t and z (Go's parser wants upper case)", "2018-04-05t17:31:00z"],
    ["a space for T", "2018-04-05 17:31:00Z"],
    ["no zone", "2018-04-05T17:31:00"],
    ["a year that UTC pushes below 0000", "0000-01-01T00:30:00+01:00"],
    ["not a time at all", "yesterday"],
  ])("text Knative's ingress would refuse stays as it is: %s", (_name, input) => {
    expect(canonicalTime(input)).toBe(input);
  });

  const MAX_MS = Date.UTC(9998, 11, 31);
  const offsets = fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 });
  const pad = (n: number) => String(Math.abs(n)).padStart(2, "0");

  it("any instant written at any offset and precision reads as the same UTC text", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse("0001-01-01T00:00:00Z"), max: MAX_MS }),
        offsets,
        fc.stringMatching(/^[0-9]{0,7}$/),
        (ms, offset, extraDigits) => {
          const local = new Date(ms + offset * 60_000).toISOString();
          const zone = `${offset < 0 ? "-" : "+"}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
          const written = `${local.slice(0, 23)}${extraDigits}${zone}`;
          const utc = new Date(ms).toISOString();
          const fraction = `${utc.slice(20, 23)}${extraDigits}`.slice(0, 9).replace(/0+$/, "");
          const expected = `${utc.slice(0, 19)}${fraction === "" ? "" : `.${fraction}`}Z`;
          expect(canonicalTime(written)).toBe(expected);
        },
      ),
    );
  });

  it("never throws and is idempotent on any text", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.stringMatching(
            /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,12})?(Z|[+-]\d{2}:\d{2})$/,
          ),
        ),
        (text) => {
          const once = canonicalTime(text);
          expect(canonicalTime(once)).toBe(once);
        },
      ),
    );
  });
});

const v1 = (extra: Record<string, string | number>): Attributes =>
  createEvent({ specversion: "1.0", id: "1", source: "/s", type: "t", ...extra }).attributes;
const v03 = (extra: Record<string, string | number>): Attributes =>
  createEvent({ specversion: "0.3", id: "1", source: "/s", type: "t", ...extra }).attributes;

describe("lookupAttribute: how exact, prefix, suffix and filter.attributes read an event", () => {
  it.each<[string, string, Attributes, string | undefined]>([
    ["dataschema of a 1.0 event", "dataschema", v1({ dataschema: "https://s/1" }), "https://s/1"],
    [
      "schemaurl reads a 1.0 event's dataschema",
      "schemaurl",
      v1({ dataschema: "https://s/1" }),
      "https://s/1",
    ],
    [
      "schemaurl of a 1.0 event ignores an extension of that name",
      "schemaurl",
      v1({ schemaurl: "https://ext" }),
      undefined,
    ],
    [
      "dataschema reads a 0.3 event's schemaurl",
      "dataschema",
      v03({ schemaurl: "https://s/3" }),
      "https://s/3",
    ],
    ["schemaurl of a 0.3 event", "schemaurl", v03({ schemaurl: "https://s/3" }), "https://s/3"],
    [
      "datamediatype is the content type without parameters",
      "datamediatype",
      v1({ datacontenttype: "application/json ; charset=utf-8" }),
      "application/json",
    ],
    [
      "datamediatype of a content type without parameters is all of it",
      "datamediatype",
      v1({ datacontenttype: "text/plain" }),
      "text/plain",
    ],
    [
      "datamediatype of an event without content type is absent",
      "datamediatype",
      v1({}),
      undefined,
    ],
    [
      "datamediatype ignores an extension of that name",
      "datamediatype",
      v1({ datamediatype: "x/y" }),
      undefined,
    ],
    [
      "datacontentencoding of a 0.3 event",
      "datacontentencoding",
      v03({ datacontentencoding: "base64" }),
      "base64",
    ],
    [
      "datacontentencoding does not exist in 1.0",
      "datacontentencoding",
      v1({ datacontentencoding: "base64" }),
      undefined,
    ],
    [
      "time reads canonically",
      "time",
      v1({ time: "2018-04-05T17:31:00.780Z" }),
      "2018-04-05T17:31:00.78Z",
    ],
    ["an absent time is absent", "time", v1({}), undefined],
    ["an integer extension reads as its decimal text", "priority", v1({ priority: 3 }), "3"],
    ["an absent extension is absent", "region", v1({}), undefined],
  ])("%s", (_name, name, attributes, expected) => {
    expect(lookupAttribute(name)(attributes)).toBe(expected);
  });

  it("a hidden name reads as absent although the event carries it", () => {
    const attributes = v1({ knativebrokerttl: 255 });
    expect(lookupAttribute("knativebrokerttl")(attributes)).toBe("255");
    expect(lookupAttribute("knativebrokerttl", new Set(["knativebrokerttl"]))(attributes)).toBe(
      undefined,
    );
  });
});

describe("cesql reads attributes as the CloudEvents SDK's CESQL does", () => {
  const hidden = new Set(["knativebrokerttl"]);
  it.each<[string, string, Attributes, FilterResult, ReadonlySet<string>?]>([
    [
      "dataschema reads a 0.3 event's schemaurl",
      "dataschema = 'https://s/3'",
      v03({ schemaurl: "https://s/3" }),
      PASS,
    ],
    [
      "schemaurl of a 0.3 event is missing (an SDK extension lookup)",
      "EXISTS schemaurl",
      v03({ schemaurl: "https://s/3" }),
      FAIL,
    ],
    [
      "schemaurl of a 1.0 event is an extension like any other",
      "schemaurl = 'https://ext'",
      v1({ schemaurl: "https://ext" }),
      PASS,
    ],
    ["an empty subject is missing", "EXISTS subject", v1({ subject: "" }), FAIL],
    ["an empty extension is present", "EXISTS region", v1({ region: "" }), PASS],
    [
      "time compares canonically",
      "time = '2018-04-05T17:31:00.78Z'",
      v1({ time: "2018-04-05T18:31:00.780+01:00" }),
      PASS,
    ],
    [
      "datamediatype is no CESQL attribute",
      "EXISTS datamediatype",
      v1({ datacontenttype: "a/b" }),
      FAIL,
    ],
    [
      "a hidden TTL does not exist",
      "EXISTS knativebrokerttl",
      v1({ knativebrokerttl: 255 }),
      FAIL,
      hidden,
    ],
    [
      "a hidden TTL equals nothing",
      "knativebrokerttl = 255",
      v1({ knativebrokerttl: 255 }),
      FAIL,
      hidden,
    ],
    [
      "NOT EXISTS of a hidden TTL holds",
      "NOT EXISTS knativebrokerttl",
      v1({ knativebrokerttl: 255 }),
      PASS,
      hidden,
    ],
    [
      "beside a hidden TTL the other attributes still read",
      "type = 't' AND NOT EXISTS knativebrokerttl",
      v1({ knativebrokerttl: 255 }),
      PASS,
      hidden,
    ],
    [
      "an unhidden TTL is an extension",
      "knativebrokerttl = 255",
      v1({ knativebrokerttl: 255 }),
      PASS,
    ],
  ])("%s", (_name, expression, attributes, expected, hiddenNames) => {
    expect(cesqlFilter(expression, hiddenNames)(attributes)).toBe(expected);
  });
});
