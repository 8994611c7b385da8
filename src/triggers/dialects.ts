/**
 * The filter building blocks of Knative's pkg/eventfilter/subscriptionsapi, with its three
 * results: a filter passes, fails, or has nothing to say (NoFilter, which a trigger delivers like
 * a pass). Only a Fail keeps an event from a subscriber.
 */
import type { Attributes, AttributeValue } from "../events/event.js";
import { type AttributeReader, isPlainAttribute, lookupAttribute } from "./attribute-lookup.js";

export const PASS = 0;
export const FAIL = 1;
export const NO_FILTER = 2;
export type FilterResult = typeof PASS | typeof FAIL | typeof NO_FILTER;

export type EventFilter = (attributes: Attributes) => FilterResult;

export const noFilter: EventFilter = () => NO_FILTER;

/**
 * Passes when every child passes. As Knative's allFilter: the first Fail decides; otherwise the
 * last child's result stands, so no child at all is NoFilter, and one child is that child.
 * Knative also reorders children at run time by how often each fails; for `all` that never
 * changes a verdict, so Eventail keeps the written order.
 */
export function allOf(children: readonly EventFilter[]): EventFilter {
  if (children.length === 0) return noFilter;
  if (children.length === 1) return children[0]!;
  return (a) => {
    let result: FilterResult = NO_FILTER;
    for (const child of children) {
      result = child(a);
      if (result === FAIL) return FAIL;
    }
    return result;
  };
}

/**
 * Passes when a child passes. As Knative's anyFilter: the first Pass decides; otherwise the last
 * child's result stands (Fail, or NoFilter when the last child has nothing to say).
 * Knative moves children that pass often to the front at run time, which can change which child is
 * last when none passes; Eventail evaluates in the written order, so the verdict is stable.
 */
export function anyOf(children: readonly EventFilter[]): EventFilter {
  if (children.length === 0) return noFilter;
  if (children.length === 1) return children[0]!;
  return (a) => {
    let result: FilterResult = NO_FILTER;
    for (const child of children) {
      result = child(a);
      if (result === PASS) return PASS;
    }
    return result;
  };
}

/** Inverts Pass and Fail; NoFilter stays NoFilter, and `not` of nothing is NoFilter (Knative). */
export function notOf(child: EventFilter | undefined): EventFilter {
  if (child === undefined) return noFilter;
  return (a) => {
    const result = child(a);
    return result === PASS ? FAIL : result === FAIL ? PASS : NO_FILTER;
  };
}

type Comparison = (actual: string, expected: string) => boolean;

const equals: Comparison = (actual, expected) => actual === expected;
const startsWith: Comparison = (actual, expected) => actual.startsWith(expected);
const endsWith: Comparison = (actual, expected) => actual.endsWith(expected);

const text = (value: AttributeValue): string => (typeof value === "string" ? value : String(value));

/**
 * The common one-attribute filter, reading the attribute inline with its comparison: with ten
 * thousand triggers each closure between an event and its verdict shows.
 */
function inlineComparison(name: string, expected: string, compare: Comparison): EventFilter {
  if (compare === equals) {
    return (a) => {
      const value = a[name];
      return value !== undefined && text(value) === expected ? PASS : FAIL;
    };
  }
  if (compare === startsWith) {
    return (a) => {
      const value = a[name];
      return value !== undefined && text(value).startsWith(expected) ? PASS : FAIL;
    };
  }
  return (a) => {
    const value = a[name];
    return value !== undefined && text(value).endsWith(expected) ? PASS : FAIL;
  };
}

/**
 * exact/prefix/suffix over one or more attributes, all of which must match; an attribute the
 * event lacks fails. Undefined for a map holding an empty name or value: Knative's constructors
 * refuse those, and its trigger then skips the whole element (it matches everything).
 */
function attributeComparison(
  map: Readonly<Record<string, string>>,
  compare: Comparison,
  hidden?: ReadonlySet<string>,
): EventFilter | undefined {
  const checks: Array<{ read: AttributeReader; expected: string }> = [];
  for (const [name, expected] of Object.entries(map)) {
    if (name === "" || expected === "") return undefined;
    checks.push({ read: lookupAttribute(name, hidden), expected: String(expected) });
  }
  if (checks.length === 1) {
    const name = Object.keys(map)[0]!;
    const { expected } = checks[0]!;
    if (isPlainAttribute(name, hidden)) return inlineComparison(name, expected, compare);
    const { read } = checks[0]!;
    return (a) => {
      const actual = read(a);
      return actual !== undefined && compare(actual, expected) ? PASS : FAIL;
    };
  }
  return (a) => {
    for (const { read, expected } of checks) {
      const actual = read(a);
      if (actual === undefined || !compare(actual, expected)) return FAIL;
    }
    return PASS;
  };
}

export function exactFilter(
  map: Readonly<Record<string, string>>,
  hidden?: ReadonlySet<string>,
): EventFilter | undefined {
  return attributeComparison(map, equals, hidden);
}

export function prefixFilter(
  map: Readonly<Record<string, string>>,
  hidden?: ReadonlySet<string>,
): EventFilter | undefined {
  return attributeComparison(map, startsWith, hidden);
}

export function suffixFilter(
  map: Readonly<Record<string, string>>,
  hidden?: ReadonlySet<string>,
): EventFilter | undefined {
  return attributeComparison(map, endsWith, hidden);
}

/**
 * `filter.attributes` (Knative's attributes filter): exact match on every name; an empty value
 * means "present and non-empty". No map at all is NoFilter; an empty map passes.
 */
export function attributesFilter(
  map: Readonly<Record<string, string>> | undefined | null,
  hidden?: ReadonlySet<string>,
): EventFilter {
  if (map === undefined || map === null) return noFilter;
  const entries = Object.entries(map);
  if (entries.length === 1 && isPlainAttribute(entries[0]![0], hidden)) {
    const [name, given] = entries[0]!;
    const expected = String(given);
    if (expected === "") {
      return (a) => {
        const value = a[name];
        return value !== undefined && text(value) !== "" ? PASS : FAIL;
      };
    }
    return (a) => {
      const value = a[name];
      return value !== undefined && text(value) === expected ? PASS : FAIL;
    };
  }
  const checks = Object.entries(map).map(([name, expected]) => ({
    read: lookupAttribute(name, hidden),
    expected: String(expected),
  }));
  return (a) => {
    for (const { read, expected } of checks) {
      const actual = read(a);
      if (actual === undefined || (expected === "" ? actual === "" : actual !== expected)) {
        return FAIL;
      }
    }
    return PASS;
  };
}
