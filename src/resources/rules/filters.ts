/**
 * Trigger filters, by Knative's rules: attribute names are lower-case letters and digits starting
 * with a letter; each `filters` element (and each nested one under all/any/not) sets exactly one
 * dialect; exact/prefix/suffix hold one attribute; all/any hold at least one filter; cesql parses.
 */
import { compile } from "../../triggers/cesql/index.js";
import { childPath } from "../issue.js";
import { asFields, type Check, quote } from "./check.js";

const ATTRIBUTE_NAME = /^[a-z][a-z0-9]*$/;
const DIALECTS = ["exact", "prefix", "suffix", "all", "any", "not", "cesql"] as const;
const SINGLE_ATTRIBUTE = new Set(["exact", "prefix", "suffix"]);

function checkAttributeName(check: Check, name: string, at: string): void {
  if (!ATTRIBUTE_NAME.test(name)) {
    check.report(
      at,
      `invalid attribute name ${quote(name)}: must start with a lower-case letter and hold only lower-case letters and digits`,
    );
  }
}

/** `spec.filter.attributes`: exact match, so only the names need checking. */
export function checkAttributesFilter(check: Check, value: unknown, at: string): void {
  const attributes = asFields(asFields(value)?.["attributes"]);
  if (!attributes) return;
  const attributesAt = childPath(at, "attributes");
  for (const name of Object.keys(attributes)) {
    checkAttributeName(check, name, childPath(attributesAt, name));
  }
}

/** `spec.filters`: the schema checks the top level's shape; nested filters are checked here. */
export function checkFilters(check: Check, value: unknown, at: string): void {
  if (!Array.isArray(value)) return;
  value.forEach((filter, index) => {
    checkFilter(check, filter, childPath(at, index), false);
  });
}

function checkFilter(check: Check, value: unknown, at: string, nested: boolean): void {
  const filter = asFields(value);
  if (!filter) {
    if (nested) check.report(at, "must be a mapping with one dialect");
    return;
  }
  const unknown = Object.keys(filter).filter(
    (key) => !(DIALECTS as readonly string[]).includes(key),
  );
  // At the top level the schema reports unknown fields; below it the CRD keeps filters open.
  if (nested) {
    for (const key of unknown) {
      check.report(childPath(at, key), `unknown field (dialects: ${DIALECTS.join(", ")})`);
    }
  }
  const set = DIALECTS.filter(
    (dialect) => filter[dialect] !== undefined && filter[dialect] !== null,
  );
  if (set.length === 0 && unknown.length === 0) {
    check.report(at, `no dialect set: give exactly one of ${DIALECTS.join(", ")}`);
  } else if (set.length > 1) {
    check.report(at, `multiple dialects set (${set.join(", ")}): a filter can have only one`);
  }
  for (const dialect of set) {
    const dialectAt = childPath(at, dialect);
    const given = filter[dialect];
    if (SINGLE_ATTRIBUTE.has(dialect)) checkSingleAttribute(check, given, dialectAt, nested);
    else if (dialect === "all" || dialect === "any")
      checkFilterList(check, given, dialectAt, nested);
    else if (dialect === "not") checkFilter(check, given, dialectAt, true);
    else checkCesql(check, given, dialectAt, nested);
  }
}

function checkSingleAttribute(check: Check, value: unknown, at: string, nested: boolean): void {
  const map = asFields(value);
  if (!map) {
    if (nested) check.report(at, "must be a map of one attribute name to a value");
    return;
  }
  const names = Object.keys(map);
  if (names.length !== 1) {
    check.report(at, `must hold exactly one attribute (got ${names.length})`);
  }
  for (const name of names) {
    checkAttributeName(check, name, childPath(at, name));
    if (nested && typeof map[name] !== "string")
      check.report(childPath(at, name), "must be a string");
  }
}

function checkFilterList(check: Check, value: unknown, at: string, nested: boolean): void {
  if (!Array.isArray(value)) {
    if (nested) check.report(at, "must be a list of filters");
    return;
  }
  if (value.length === 0) check.report(at, "must hold at least one filter");
  value.forEach((filter, index) => {
    checkFilter(check, filter, childPath(at, index), true);
  });
}

function checkCesql(check: Check, value: unknown, at: string, nested: boolean): void {
  if (typeof value !== "string") {
    if (nested) check.report(at, "must be a string");
    return;
  }
  const compiled = compile(value);
  if (!compiled.ok) {
    // The compiler's message already names the line and column within the expression.
    check.report(at, `invalid CESQL expression: ${compiled.error.message}`);
  }
}
