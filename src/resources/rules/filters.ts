/**
 * Trigger filters, by Knative's validation code (pkg/apis/eventing/v1/trigger_validation.go):
 * attribute names are lower-case letters and digits starting with a letter; a `filters` element
 * (and each nested one under all/any/not) sets at most one dialect; cesql parses.
 *
 * Where Knative's documentation and code disagree, this follows the code:
 * - exact/prefix/suffix may hold several attributes, all of which must match (the API docs of
 *   older releases say "exactly one"; the code and the 1.22 CRD allow several);
 * - all/any may be empty, and an element may set no dialect (the docs say all/any "must contain at
 *   least one filter expression"; the code accepts both and its filter matches everything);
 * - an empty value in exact/prefix/suffix is accepted (the CRD says names and values "must not be
 *   empty strings"; the code validates names only, and its broker then skips the element).
 * A dialect counts as set as Knative counts it: a non-empty map or list, a `not` that is there, a
 * non-empty cesql. So `exact: {}` beside `prefix: {...}` is one dialect.
 */
import { compile } from "../../triggers/cesql/index.js";
import { childPath } from "../issue.js";
import { asFields, type Check, quote } from "./check.js";

const ATTRIBUTE_NAME = /^[a-z][a-z0-9]*$/;
const DIALECTS = ["exact", "prefix", "suffix", "all", "any", "not", "cesql"] as const;
const ATTRIBUTE_MAPS = new Set(["exact", "prefix", "suffix"]);

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
    if (nested) check.report(at, "must be a mapping (a filter with at most one dialect)");
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
  const present = DIALECTS.filter(
    (dialect) => filter[dialect] !== undefined && filter[dialect] !== null,
  );
  const set = present.filter((dialect) => isSet(filter[dialect], dialect));
  if (set.length > 1) {
    check.report(at, `multiple dialects set (${set.join(", ")}): a filter can have only one`);
  }
  for (const dialect of present) {
    const dialectAt = childPath(at, dialect);
    const given = filter[dialect];
    if (ATTRIBUTE_MAPS.has(dialect)) checkAttributeMap(check, given, dialectAt, nested);
    else if (dialect === "all" || dialect === "any")
      checkFilterList(check, given, dialectAt, nested);
    else if (dialect === "not") checkFilter(check, given, dialectAt, true);
    else checkCesql(check, given, dialectAt, nested);
  }
}

/** Whether Knative's hasMultipleDialects counts this dialect as set. */
function isSet(value: unknown, dialect: (typeof DIALECTS)[number]): boolean {
  if (ATTRIBUTE_MAPS.has(dialect)) {
    const map = asFields(value);
    return map === undefined || Object.keys(map).length > 0;
  }
  if (dialect === "all" || dialect === "any") return !Array.isArray(value) || value.length > 0;
  if (dialect === "cesql") return value !== "";
  return true;
}

function checkAttributeMap(check: Check, value: unknown, at: string, nested: boolean): void {
  const map = asFields(value);
  if (!map) {
    if (nested) check.report(at, "must be a map of attribute names to values");
    return;
  }
  for (const name of Object.keys(map)) {
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
  value.forEach((filter, index) => {
    checkFilter(check, filter, childPath(at, index), true);
  });
}

function checkCesql(check: Check, value: unknown, at: string, nested: boolean): void {
  if (typeof value !== "string") {
    if (nested) check.report(at, "must be a string");
    return;
  }
  // Knative's ValidateCESQLExpression accepts "" (no expression, no dialect).
  if (value === "") return;
  const compiled = compile(value);
  if (!compiled.ok) {
    // The compiler's message already names the line and column within the expression.
    check.report(at, `invalid CESQL expression: ${compiled.error.message}`);
  }
}
