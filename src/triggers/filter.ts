/**
 * Trigger filters with Knative's semantics, compiled once per trigger version.
 *
 * - `filter.attributes`: exact match, ANDed; an empty value means "present and non-empty".
 * - `filters` (Subscriptions API dialects), ANDed; when non-empty they replace `filter`.
 * - A missing attribute fails exact/prefix/suffix/cesql; `not` inverts its child's verdict.
 */
import type { Attributes, CloudEvent } from "../events/event.js";

export interface SubscriptionsApiFilter {
  exact?: Record<string, string>;
  prefix?: Record<string, string>;
  suffix?: Record<string, string>;
  all?: SubscriptionsApiFilter[];
  any?: SubscriptionsApiFilter[];
  not?: SubscriptionsApiFilter;
  cesql?: string;
}

export interface TriggerFilterSpec {
  filter?: { attributes?: Record<string, string> };
  filters?: SubscriptionsApiFilter[];
}

export interface Filter {
  match(event: CloudEvent): boolean;
  /**
   * The exact `type` every matching event must have, when the filter pins one. Lets a broker
   * index its triggers by type instead of evaluating every trigger per event.
   */
  readonly requiredType?: string;
}

/** Compiles a CESQL expression into a predicate; throws on a syntax error. */
export type CesqlCompiler = (expression: string) => (attributes: Attributes) => boolean;

type Predicate = (attributes: Attributes) => boolean;

const PASS: Predicate = () => true;

function attributeText(attributes: Attributes, name: string): string | undefined {
  const value = attributes[name];
  return value === undefined ? undefined : typeof value === "string" ? value : String(value);
}

function and(predicates: Predicate[]): Predicate {
  if (predicates.length === 0) return PASS;
  if (predicates.length === 1) return predicates[0]!;
  if (predicates.length === 2) {
    const [a, b] = predicates as [Predicate, Predicate];
    return (attributes) => a(attributes) && b(attributes);
  }
  return (attributes) => {
    for (const predicate of predicates) if (!predicate(attributes)) return false;
    return true;
  };
}

function attributeMatcher(
  map: Record<string, string>,
  test: (actual: string, expected: string) => boolean,
): Predicate {
  return and(
    Object.entries(map).map(([name, expected]) => (attributes: Attributes) => {
      const actual = attributeText(attributes, name);
      return actual !== undefined && test(actual, expected);
    }),
  );
}

function compileDialect(filter: SubscriptionsApiFilter, cesql: CesqlCompiler): Predicate {
  const parts: Predicate[] = [];
  if (filter.exact) parts.push(attributeMatcher(filter.exact, (a, e) => a === e));
  if (filter.prefix) parts.push(attributeMatcher(filter.prefix, (a, e) => a.startsWith(e)));
  if (filter.suffix) parts.push(attributeMatcher(filter.suffix, (a, e) => a.endsWith(e)));
  if (filter.all && filter.all.length > 0) {
    parts.push(and(filter.all.map((child) => compileDialect(child, cesql))));
  }
  if (filter.any && filter.any.length > 0) {
    const children = filter.any.map((child) => compileDialect(child, cesql));
    parts.push((attributes) => {
      for (const child of children) if (child(attributes)) return true;
      return false;
    });
  }
  if (filter.not) {
    const child = compileDialect(filter.not, cesql);
    parts.push((attributes) => !child(attributes));
  }
  if (filter.cesql !== undefined) parts.push(cesql(filter.cesql));
  return and(parts);
}

function compileAttributes(attributesFilter: Record<string, string>): Predicate {
  return and(
    Object.entries(attributesFilter).map(([name, expected]) => (attributes: Attributes) => {
      const actual = attributeText(attributes, name);
      if (actual === undefined) return false;
      return expected === "" ? actual !== "" : actual === expected;
    }),
  );
}

/** The `type` a filter pins with an exact match at its top level, if any. */
function pinnedType(spec: TriggerFilterSpec): string | undefined {
  if (spec.filters && spec.filters.length > 0) {
    for (const filter of spec.filters) {
      const type = filter.exact?.["type"];
      if (type !== undefined) return type;
      const nested = filter.all?.find((child) => child.exact?.["type"] !== undefined);
      if (nested) return nested.exact!["type"];
    }
    return undefined;
  }
  const type = spec.filter?.attributes?.["type"];
  return type === undefined || type === "" ? undefined : type;
}

export function compileFilter(spec: TriggerFilterSpec, cesql: CesqlCompiler): Filter {
  const predicate =
    spec.filters && spec.filters.length > 0
      ? and(spec.filters.map((filter) => compileDialect(filter, cesql)))
      : compileAttributes(spec.filter?.attributes ?? {});
  const requiredType = pinnedType(spec);
  return {
    match: (event) => predicate(event.attributes),
    ...(requiredType === undefined ? {} : { requiredType }),
  };
}
