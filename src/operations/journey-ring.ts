/**
 * The memory of journeys: the last `size` accepted events of this process, each with the routes
 * reported for it. Recording keeps small records and builds no JSON; the oldest event is pushed
 * out when a new one arrives at a full ring.
 */
import type { AcceptedRecord, RouteRecord, StoredJourney } from "../backing/journey.js";

interface Entry extends StoredJourney {
  readonly key: string;
  readonly source: string;
  readonly accepted: AcceptedRecord;
  routes: RouteRecord[];
}

const NO_ROUTES: RouteRecord[] = [];

/** Map key of (namespace, id); a NUL cannot appear in either. */
export function journeyKey(namespace: string, id: string): string {
  return `${namespace}\u0000${id}`;
}

export class JourneyRing {
  /** By (namespace, id): one entry, or several when the id came with several sources. */
  private readonly byKey = new Map<string, Entry | Entry[]>();
  private readonly ring: Entry[] = [];
  private next = 0;

  constructor(readonly size: number) {}

  get length(): number {
    return this.ring.length;
  }

  add(namespace: string, id: string, source: string, accepted: AcceptedRecord): void {
    if (this.size <= 0) return;
    const key = journeyKey(namespace, id);
    const entry: Entry = { key, source, accepted, routes: NO_ROUTES };
    if (this.ring.length < this.size) this.ring.push(entry);
    else {
      this.forget(this.ring[this.next]!);
      this.ring[this.next] = entry;
    }
    this.next = (this.next + 1) % this.size;
    const existing = this.byKey.get(key);
    if (existing === undefined) this.byKey.set(key, entry);
    else if (Array.isArray(existing)) {
      const same = existing.findIndex((e) => e.source === source);
      if (same >= 0) existing[same] = entry;
      else existing.push(entry);
    } else if (existing.source === source) this.byKey.set(key, entry);
    else this.byKey.set(key, [existing, entry]);
  }

  /** Adds or replaces the route of the same kind and name; false when the event is not held. */
  route(namespace: string, id: string, source: string, route: RouteRecord): boolean {
    const entry = this.find(journeyKey(namespace, id), source);
    if (entry === undefined) return false;
    if (entry.routes === NO_ROUTES) entry.routes = [route];
    else {
      const routes = entry.routes;
      const i = routes.findIndex((r) => r.name === route.name && r.kind === route.kind);
      if (i >= 0) routes[i] = route;
      else routes.push(route);
    }
    return true;
  }

  /** Forgets one event (its acceptance was withdrawn); its ring slot is reused in turn. */
  remove(namespace: string, id: string, source: string): void {
    const entry = this.find(journeyKey(namespace, id), source);
    if (entry !== undefined) this.forget(entry);
  }

  /** Every source held under (namespace, id). */
  get(namespace: string, id: string): StoredJourney[] {
    const found = this.byKey.get(journeyKey(namespace, id));
    if (found === undefined) return [];
    return Array.isArray(found) ? [...found] : [found];
  }

  private find(key: string, source: string): Entry | undefined {
    const found = this.byKey.get(key);
    if (found === undefined) return undefined;
    if (Array.isArray(found)) return found.find((e) => e.source === source);
    return found.source === source ? found : undefined;
  }

  /** Drops an entry pushed out of the ring (unless a newer one took its place in the index). */
  private forget(entry: Entry): void {
    const found = this.byKey.get(entry.key);
    if (found === entry) this.byKey.delete(entry.key);
    else if (Array.isArray(found)) {
      const rest = found.filter((e) => e !== entry);
      if (rest.length === 0) this.byKey.delete(entry.key);
      else this.byKey.set(entry.key, rest.length === 1 ? rest[0]! : rest);
    }
  }
}
