/**
 * Trigger filters as Knative Eventing's code has them (pkg/broker/filter filterEvent,
 * pkg/eventfilter/subscriptionsapi/create.go, pkg/eventfilter/attributes), compiled once per
 * trigger version.
 *
 * - `filters`, when non-empty, replace `filter`; their elements are ANDed.
 * - Each element is materialized as Knative does: the first non-empty dialect in the order exact,
 *   prefix, suffix, all, any, not, cesql is the element (validation refuses two). An element that
 *   materializes to nothing — no dialect, an empty map or list, `cesql: ""`, or an exact/prefix/
 *   suffix holding an empty name or value — is skipped, so it matches everything.
 * - `filter.attributes`: exact match, ANDed; an empty value means "present and non-empty".
 * - The result is Pass, Fail or NoFilter (dialects.ts); every result but Fail delivers.
 * Knative's API docs say all/any hold at least one filter and exact/prefix/suffix values are not
 * empty; its code accepts both and materializes them as above, and so does Eventail (the code wins;
 * validation in resources/rules/filters.ts says the same).
 */
import type { Attributes, CloudEvent } from "../events/event.js";
import {
  allOf,
  anyOf,
  attributesFilter,
  type EventFilter,
  exactFilter,
  FAIL,
  type FilterResult,
  NO_FILTER,
  notOf,
  PASS,
  prefixFilter,
  suffixFilter,
} from "./dialects.js";

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

export interface CompiledFilter extends Filter {
  /** Knative's verdict: Pass, Fail or NoFilter (`match` is "not Fail"). */
  result(event: CloudEvent): FilterResult;
}

/**
 * Compiles a CESQL expression into a predicate that reads attributes as Knative's CESQL filter
 * does, `hidden` names being missing; throws on a syntax error.
 */
export type CesqlCompiler = (
  expression: string,
  hidden: ReadonlySet<string>,
) => (attributes: Attributes) => boolean;

export { FAIL, type FilterResult, NO_FILTER, PASS } from "./dialects.js";

/** A materialized element: its filter and the type it pins, if any. */
interface Compiled {
  readonly run: EventFilter;
  readonly requiredType?: string;
}

const NONE: ReadonlySet<string> = new Set();

function nonEmpty(
  map: Readonly<Record<string, string>> | undefined,
): map is Record<string, string> {
  return map !== undefined && map !== null && Object.keys(map).length > 0;
}

class Materializer {
  constructor(
    private readonly cesql: CesqlCompiler,
    private readonly hidden: ReadonlySet<string>,
  ) {}

  /** Knative's MaterializeSubscriptionsAPIFilter; undefined where Knative gets nil. */
  element(filter: SubscriptionsApiFilter | undefined | null): Compiled | undefined {
    if (filter === undefined || filter === null) return undefined;
    if (nonEmpty(filter.exact)) {
      const run = exactFilter(filter.exact, this.hidden);
      if (run === undefined) return undefined;
      const type = this.hidden.has("type") ? undefined : filter.exact["type"];
      return type === undefined ? { run } : { run, requiredType: type };
    }
    if (nonEmpty(filter.prefix)) return wrap(prefixFilter(filter.prefix, this.hidden));
    if (nonEmpty(filter.suffix)) return wrap(suffixFilter(filter.suffix, this.hidden));
    if (filter.all && filter.all.length > 0) return this.all(this.list(filter.all));
    if (filter.any && filter.any.length > 0) {
      const children = this.list(filter.any);
      const types = new Set(children.map((child) => child.requiredType));
      // Every child failing on other types makes `any` fail on them too.
      const type = children.length > 0 && types.size === 1 ? [...types][0] : undefined;
      const run = anyOf(children.map((child) => child.run));
      return type === undefined ? { run } : { run, requiredType: type };
    }
    if (filter.not !== undefined && filter.not !== null) {
      return { run: notOf(this.element(filter.not)?.run) };
    }
    if (typeof filter.cesql === "string" && filter.cesql !== "") {
      const matches = this.cesql(filter.cesql, this.hidden);
      return { run: (a) => (matches(a) ? PASS : FAIL) };
    }
    return undefined;
  }

  /** Knative's MaterializeFiltersList: elements that materialize to nothing are skipped. */
  list(filters: readonly SubscriptionsApiFilter[]): Compiled[] {
    const compiled: Compiled[] = [];
    for (const filter of filters) {
      const element = this.element(filter);
      if (element !== undefined) compiled.push(element);
    }
    return compiled;
  }

  all(children: readonly Compiled[]): Compiled {
    const run = allOf(children.map((child) => child.run));
    // One failing child fails `all`, so any child's pinned type is `all`'s.
    const type = children.find((child) => child.requiredType !== undefined)?.requiredType;
    return type === undefined ? { run } : { run, requiredType: type };
  }
}

function wrap(run: EventFilter | undefined): Compiled | undefined {
  return run === undefined ? undefined : { run };
}

function compileRoot(
  spec: TriggerFilterSpec,
  materializer: Materializer,
  hidden: ReadonlySet<string>,
): Compiled {
  if (spec.filters && spec.filters.length > 0) {
    return materializer.all(materializer.list(spec.filters));
  }
  if (spec.filter === undefined || spec.filter === null) return { run: () => NO_FILTER };
  const attributes = spec.filter.attributes;
  const run = attributesFilter(attributes, hidden);
  const type = hidden.has("type") ? undefined : attributes?.["type"];
  return type === undefined || type === "" ? { run } : { run, requiredType: type };
}

/**
 * Compiles a trigger's `filter`/`filters`. `hidden` names are invisible to every dialect (the
 * broker hides `knativebrokerttl`, which Knative deletes before filtering).
 */
export function compileFilter(
  spec: TriggerFilterSpec,
  cesql: CesqlCompiler,
  hidden: ReadonlySet<string> = NONE,
): CompiledFilter {
  const root = compileRoot(spec, new Materializer(cesql, hidden), hidden);
  const run = root.run;
  return {
    match: (event) => run(event.attributes) !== FAIL,
    result: (event) => run(event.attributes),
    ...(root.requiredType === undefined ? {} : { requiredType: root.requiredType }),
  };
}
