/**
 * How Knative's filters read an event's attributes, compiled once per attribute name so matching
 * never copies an event.
 *
 * Two readers, because Knative has two: exact/prefix/suffix and `filter.attributes` go through
 * `attributes.LookupAttribute` (knative/eventing pkg/eventfilter/attributes/filter.go), and CESQL
 * through the CloudEvents SDK's `sql/v2/utils.GetAttribute`. They differ on aliases and on empty
 * values, and Eventail keeps each difference where Knative has it.
 */
import type { Attributes, AttributeValue } from "../events/event.js";

/** An attribute as the filter dialects see it: its text, or undefined when the event lacks it. */
export type AttributeReader = (attributes: Attributes) => string | undefined;

const NONE: ReadonlySet<string> = new Set();

function text(value: AttributeValue | undefined): string | undefined {
  // Knative's filters see extension values as the text they crossed HTTP as (`%v` in Go).
  return value === undefined ? undefined : typeof value === "string" ? value : String(value);
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * `time` as Knative's filters compare it. Its broker hands a filter an event the SDK has written
 * out and read back (UTC, RFC 3339 with nanoseconds), and LookupAttribute and CESQL format that
 * time again with Go's RFC3339Nano: UTC, `Z`, fraction cut to nanoseconds without trailing
 * zeros. So `17:31:00.780Z`, `17:31:00.78Z` and `18:31:00.78+01:00` all read `17:31:00.78Z`.
 * Text that is not RFC 3339 (Knative's ingress would have refused it) is left as it is.
 */
export function canonicalTime(value: string): string {
  const m = RFC3339.exec(value);
  if (m === null) return value;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const hours = Number(m[10]);
    const minutes = Number(m[11]);
    if (hours > 23 || minutes > 59) return value;
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (hours * 60 + minutes);
  }
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return value;
  if (day < 1 || day > new Date(Date.UTC(2000, month, 0)).getUTCDate()) return value;
  if (month === 2 && day === 29 && !isLeapYear(year)) return value;
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute - offsetMinutes, second, 0);
  const utcYear = utc.getUTCFullYear();
  // Go cannot format a year outside 0..9999 as RFC 3339; such a time never passed Knative's ingress.
  if (utcYear < 0 || utcYear > 9999) return value;
  const fraction = (m[7] ?? "").slice(0, 9).replace(/0+$/, "");
  const iso = utc.toISOString();
  // toISOString writes years 0..9999 with four digits, so the seconds end at index 19.
  return `${iso.slice(0, 19)}${fraction === "" ? "" : `.${fraction}`}Z`;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** The content type without its parameters, as the SDK's DataMediaType cuts it. */
function mediaType(contentType: string): string {
  const semicolon = contentType.indexOf(";");
  return semicolon === -1 ? contentType : contentType.slice(0, semicolon).trim();
}

function isV03(attributes: Attributes): boolean {
  return attributes["specversion"] === "0.3";
}

/** Names LookupAttribute reads other than straight from the attribute of that name. */
const DERIVED = new Set([
  "time",
  "dataschema",
  "schemaurl",
  "datamediatype",
  "datacontentencoding",
]);

/**
 * Whether `lookupAttribute(name)` is a plain read of `attributes[name]` (as text), so a matcher on
 * a hot path may read it inline.
 */
export function isPlainAttribute(name: string, hidden: ReadonlySet<string> = NONE): boolean {
  return !DERIVED.has(name) && !hidden.has(name);
}

/**
 * Knative's LookupAttribute, for exact, prefix, suffix and `filter.attributes`:
 * - `schemaurl` and `dataschema` both read the event's schema, whichever name its specversion
 *   gives it (0.3 `schemaurl`, 1.0 `dataschema`);
 * - `datamediatype` is `datacontenttype` without parameters;
 * - `datacontentencoding` exists only in 0.3 events;
 * - `time` reads as canonicalTime.
 * Knative reads an absent context attribute as "" (the same verdicts as absent) and an absent
 * `time` as Go's zero time `0001-01-01T00:00:00Z`; Eventail reads an absent `time` as absent (see
 * test/triggers/knative/attributes-filter.test.ts). A `hidden` name reads as absent.
 */
export function lookupAttribute(name: string, hidden: ReadonlySet<string> = NONE): AttributeReader {
  if (hidden.has(name)) return () => undefined;
  switch (name) {
    case "time":
      return (a) => {
        const value = a["time"];
        return value === undefined ? undefined : canonicalTime(String(value));
      };
    case "dataschema":
    case "schemaurl":
      return (a) => text(a[isV03(a) ? "schemaurl" : "dataschema"]);
    case "datamediatype":
      return (a) => {
        const value = a["datacontenttype"];
        return value === undefined ? undefined : mediaType(String(value));
      };
    case "datacontentencoding":
      return (a) => (isV03(a) ? text(a["datacontentencoding"]) : undefined);
    default:
      return (a) => {
        const value = a[name];
        return typeof value === "string" ? value : text(value);
      };
  }
}

/** Optional 1.0 context attributes: the SDK's CESQL reads an empty one as missing. */
const OPTIONAL_CONTEXT = new Set(["datacontenttype", "dataschema", "subject", "time"]);
/** Context attributes of 0.3 only: CESQL looks them up as extensions, which a 0.3 event lacks. */
const V03_ONLY = new Set(["schemaurl", "datacontentencoding"]);

function cesqlValue(a: Attributes, name: string): AttributeValue | undefined {
  if (V03_ONLY.has(name) && isV03(a)) return undefined;
  if (!OPTIONAL_CONTEXT.has(name)) return a[name];
  const value = name === "dataschema" && isV03(a) ? a["schemaurl"] : a[name];
  if (value === undefined || value === "") return undefined;
  return name === "time" ? canonicalTime(String(value)) : value;
}

/**
 * The attributes a CESQL expression reading `names` should see, the way the SDK's GetAttribute
 * and EXISTS read them: `dataschema` also reads a 0.3 `schemaurl`; an empty optional context
 * attribute is missing; `time` reads as canonicalTime; a `hidden` name is missing.
 * Undefined when none of `names` needs that, so the expression reads the event itself; otherwise
 * a function that builds a small object of just those names per evaluation.
 */
export function cesqlAttributeView(
  names: ReadonlySet<string>,
  hidden: ReadonlySet<string> = NONE,
): ((attributes: Attributes) => Attributes) | undefined {
  const read = [...names];
  const special = read.some(
    (name) => hidden.has(name) || OPTIONAL_CONTEXT.has(name) || V03_ONLY.has(name),
  );
  if (!special) return undefined;
  const visible = read.filter((name) => !hidden.has(name));
  return (a) => {
    const view: Record<string, AttributeValue> = {};
    for (const name of visible) {
      const value = cesqlValue(a, name);
      if (value !== undefined) view[name] = value;
    }
    return view;
  };
}
