/**
 * Filter micro-benchmark: what matching one event costs when a broker has 1, 100 or 10,000
 * triggers, each pinning one exact `type`. "scan" evaluates every trigger's compiled filter, as
 * a consumer per trigger does; "index" looks the event's type up among the filters' requiredType
 * first, which is what an exact-filter index would pay. Costs are per CPU-second, so they hold
 * while other processes compete for the cores.
 */
import { type CloudEvent, createEvent } from "../src/events/event.js";
import { compileCesqlPredicate } from "../src/triggers/cesql-filter.js";
import { compileFilter, type Filter } from "../src/triggers/filter.js";
import { exactTypes } from "./scenarios.js";

export type FilterDialect = "attributes" | "cesql";

export interface FilterBenchRow {
  readonly triggers: number;
  readonly dialect: FilterDialect;
  /** CPU ns to match one event against every trigger. */
  readonly scanNsPerEvent: number;
  /** CPU ns with a type index in front (the CESQL filters pin no type: they are all scanned). */
  readonly indexNsPerEvent: number;
}

function compileAll(types: readonly string[], dialect: FilterDialect): Filter[] {
  return types.map((type) =>
    compileFilter(
      dialect === "attributes"
        ? { filter: { attributes: { type } } }
        : { filters: [{ cesql: `type = '${type}'` }] },
      compileCesqlPredicate,
    ),
  );
}

/** Calls `matchOne` on events in turn for about `durationMs` of CPU; returns CPU ns per event. */
function timePerEvent(
  events: readonly CloudEvent[],
  durationMs: number,
  matchOne: (event: CloudEvent) => number,
): number {
  let matched = 0;
  // Warm-up, so the measured loop runs optimized code.
  for (let i = 0; i < Math.min(events.length, 2_000); i++) matched += matchOne(events[i]!);
  const start = process.cpuUsage();
  let done = 0;
  let cpuUs = 0;
  while (cpuUs < durationMs * 1000) {
    for (let i = 0; i < 64; i++) matched += matchOne(events[(done + i) % events.length]!);
    done += 64;
    const used = process.cpuUsage(start);
    cpuUs = used.user + used.system;
  }
  // Every event matches exactly one trigger; checking it keeps the work from being skipped.
  if (matched !== done + Math.min(events.length, 2_000)) {
    throw new Error(`filter bench: ${matched} matches for ${done} events`);
  }
  return (cpuUs * 1000) / done;
}

export function benchFilters(
  triggers: number,
  dialect: FilterDialect,
  durationMs: number,
): FilterBenchRow {
  const types = exactTypes(triggers);
  const filters = compileAll(types, dialect);
  const events = Array.from({ length: 1_000 }, (_, i) =>
    createEvent({
      specversion: "1.0",
      id: String(i),
      source: "/bench",
      type: types[(i * 7_919) % triggers]!,
    }),
  );

  const scan = (event: CloudEvent) => {
    let n = 0;
    for (const filter of filters) if (filter.match(event)) n++;
    return n;
  };

  const byType = new Map<string, Filter[]>();
  const unpinned: Filter[] = [];
  for (const filter of filters) {
    if (filter.requiredType === undefined) unpinned.push(filter);
    else {
      const list = byType.get(filter.requiredType) ?? [];
      list.push(filter);
      byType.set(filter.requiredType, list);
    }
  }
  const indexed = (event: CloudEvent) => {
    let n = 0;
    const pinned = byType.get(String(event.attributes["type"]));
    if (pinned !== undefined) for (const filter of pinned) if (filter.match(event)) n++;
    for (const filter of unpinned) if (filter.match(event)) n++;
    return n;
  };

  return {
    triggers,
    dialect,
    scanNsPerEvent: timePerEvent(events, durationMs, scan),
    indexNsPerEvent: timePerEvent(events, durationMs, indexed),
  };
}
