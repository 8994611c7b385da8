/**
 * The memory of journeys: the last `size` accepted events of this process, each with the routes
 * reported for it. Recording keeps small records and builds no JSON; the oldest event is pushed
 * out when a new one arrives at a full ring.
 *
 * A full ring holds `size` entries in the old generation, and every new one is promoted there, so
 * an entry is kept to few objects: no joined key string (an index per namespace), the acceptance
 * as fields, routes as JSON strings, one route without an array, and repeated strings (sources,
 * streams, types) held once.
 */
import type { AcceptedRecord, RouteRecord, StoredJourney } from "../backing/journey.js";

/** `kind/name` then a newline then the route's JSON: a route is found by its prefix. */
function routeLine(route: RouteRecord): string {
  return `${route.kind}/${route.name}\n${JSON.stringify(route)}`;
}

function sameRoute(line: string, prefix: string): boolean {
  return line.startsWith(prefix);
}

function parseRoute(line: string): RouteRecord {
  return JSON.parse(line.slice(line.indexOf("\n") + 1)) as RouteRecord;
}

/** Times are held as milliseconds from here: a small integer needs no heap number of its own. */
const EPOCH = Date.now();

/**
 * One event: its acceptance as plain fields (numbers small integers, strings shared with other
 * entries) and its routes as JSON strings, parsed only when a journey is read. A full ring is
 * old-generation data that every major collection marks; an entry is a couple of objects instead
 * of the twenty or so its records would be, and marking a full ring takes a fraction of the time.
 */
class Entry {
  /** One route, or several (a broker with several triggers). */
  routes: string | string[] | undefined = undefined;
  private readonly at: number;
  private readonly stream: string;
  private readonly size: number;
  private readonly type: string;
  private readonly traceparent: string | undefined;

  constructor(
    readonly namespace: string,
    readonly id: string,
    readonly source: string,
    accepted: AcceptedRecord,
  ) {
    this.at = accepted.at - EPOCH;
    this.stream = accepted.stream;
    this.size = accepted.size;
    this.type = accepted.type;
    this.traceparent = accepted.traceparent;
  }

  journey(): StoredJourney {
    const routes = this.routes;
    const accepted: AcceptedRecord = {
      at: this.at + EPOCH,
      stream: this.stream,
      size: this.size,
      type: this.type,
      ...(this.traceparent === undefined ? {} : { traceparent: this.traceparent }),
    };
    return {
      source: this.source,
      accepted,
      routes:
        routes === undefined
          ? []
          : Array.isArray(routes)
            ? routes.map(parseRoute)
            : [parseRoute(routes)],
    };
  }
}

/** Strings that repeat from event to event, held once; bounded, in case they do not repeat. */
export class InternedStrings {
  private readonly seen = new Map<string, string>();

  constructor(private readonly limit = 4_096) {}

  of(text: string): string {
    const held = this.seen.get(text);
    if (held !== undefined) return held;
    if (this.seen.size >= this.limit) this.seen.clear();
    this.seen.set(text, text);
    return text;
  }
}

export class JourneyRing {
  /** By namespace, then id: one entry, or several when the id came with several sources. */
  private readonly byNamespace = new Map<string, Map<string, Entry | Entry[]>>();
  private readonly ring: Entry[] = [];
  private readonly sources = new InternedStrings();
  private next = 0;

  constructor(readonly size: number) {}

  get length(): number {
    return this.ring.length;
  }

  add(namespace: string, id: string, source: string, accepted: AcceptedRecord): void {
    if (this.size <= 0) return;
    const entry = new Entry(namespace, id, this.sources.of(source), accepted);
    if (this.ring.length < this.size) this.ring.push(entry);
    else {
      this.forget(this.ring[this.next]!);
      this.ring[this.next] = entry;
    }
    this.next = (this.next + 1) % this.size;
    let index = this.byNamespace.get(namespace);
    if (index === undefined) {
      index = new Map();
      this.byNamespace.set(namespace, index);
    }
    const existing = index.get(id);
    if (existing === undefined) index.set(id, entry);
    else if (Array.isArray(existing)) {
      const same = existing.findIndex((e) => e.source === source);
      if (same >= 0) existing[same] = entry;
      else existing.push(entry);
    } else if (existing.source === source) index.set(id, entry);
    else index.set(id, [existing, entry]);
  }

  /** Adds or replaces the route of the same kind and name; false when the event is not held. */
  route(namespace: string, id: string, source: string, route: RouteRecord): boolean {
    const entry = this.find(namespace, id, source);
    if (entry === undefined) return false;
    const line = routeLine(route);
    const prefix = line.slice(0, line.indexOf("\n") + 1);
    const routes = entry.routes;
    if (routes === undefined) entry.routes = line;
    else if (!Array.isArray(routes)) {
      entry.routes = sameRoute(routes, prefix) ? line : [routes, line];
    } else {
      const i = routes.findIndex((r) => sameRoute(r, prefix));
      if (i >= 0) routes[i] = line;
      else routes.push(line);
    }
    return true;
  }

  /** Forgets one event (its acceptance was withdrawn); its ring slot is reused in turn. */
  remove(namespace: string, id: string, source: string): void {
    const entry = this.find(namespace, id, source);
    if (entry !== undefined) this.forget(entry);
  }

  /** Every source held under (namespace, id). */
  get(namespace: string, id: string): StoredJourney[] {
    const found = this.byNamespace.get(namespace)?.get(id);
    if (found === undefined) return [];
    return Array.isArray(found) ? found.map((e) => e.journey()) : [found.journey()];
  }

  private find(namespace: string, id: string, source: string): Entry | undefined {
    const found = this.byNamespace.get(namespace)?.get(id);
    if (found === undefined) return undefined;
    if (Array.isArray(found)) return found.find((e) => e.source === source);
    return found.source === source ? found : undefined;
  }

  /** Drops an entry pushed out of the ring (unless a newer one took its place in the index). */
  private forget(entry: Entry): void {
    const index = this.byNamespace.get(entry.namespace);
    const found = index?.get(entry.id);
    if (index === undefined || found === undefined) return;
    if (found === entry) index.delete(entry.id);
    else if (Array.isArray(found)) {
      const rest = found.filter((e) => e !== entry);
      if (rest.length === 0) index.delete(entry.id);
      else index.set(entry.id, rest.length === 1 ? rest[0]! : rest);
    }
  }
}
