/**
 * The memory of journeys: the last `size` accepted events of this process, each with the routes
 * reported for it. Recording keeps small records and builds no JSON for the common route; the
 * oldest event is pushed out when a new one arrives at a full ring.
 *
 * A full ring is `size` events that every major collection marks, so nothing is allocated per
 * event that would live as long as the event: the ring is columns preallocated by slot (numbers in
 * typed arrays, strings shared with other events), the index maps an id to a slot number, and a
 * route that is only numbers and known names (one attempt, answered) is held as numbers too.
 * Other routes are JSON strings, parsed only when a journey is read.
 */
import type {
  AcceptedRecord,
  RouteOutcome,
  RouteRecord,
  StoredJourney,
} from "../backing/journey.js";

/** `kind/name` then a newline then the route's JSON: a route is found by its prefix. */
function routeLine(route: RouteRecord): string {
  const line = `${route.kind}/${route.name}\n${JSON.stringify(route)}`;
  // A concatenation is a tree of its parts until read; reading a character makes it one flat
  // string (the collector then drops the tree), about half the bytes for the life of the slot.
  line.charCodeAt(0);
  return line;
}

function parseRoute(line: string): RouteRecord {
  return JSON.parse(line.slice(line.indexOf("\n") + 1)) as RouteRecord;
}

function linePrefix(kind: string, name: string): string {
  return `${kind}/${name}\n`;
}

const OUTCOMES: readonly RouteOutcome[] = [
  "filtered-out",
  "pending",
  "delivered",
  "replied",
  "dead-lettered",
  "dropped",
];
const OUTCOME_CODES = new Map(OUTCOMES.map((o, i) => [o, i]));
/** Kind and name codes a numeric route may use; beyond, routes are JSON strings. */
const ROUTE_NAME_LIMIT = 4_096;
const NO_ROUTE = -1;
/** `attempts` absent, or present and empty. */
const NO_ATTEMPTS = -1;
const EMPTY_ATTEMPTS = 0;

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

/** A route held as numbers: its (kind, name) code; see `numericRoute`. */
interface RouteName {
  readonly kind: RouteRecord["kind"];
  readonly name: string;
}

export class JourneyRing {
  /** By namespace, then id: the slot of one event, or several when the id came with several sources. */
  private readonly byNamespace = new Map<string, Map<string, number | number[]>>();
  private readonly sourceNames = new InternedStrings();
  /** Columns by slot; an empty slot has no id. */
  private readonly ids: (string | undefined)[];
  private readonly sources: string[];
  private readonly namespaces: string[];
  private readonly streams: string[];
  private readonly types: string[];
  private readonly traceparents: (string | undefined)[];
  private readonly at: Float64Array;
  private readonly sizes: Float64Array;
  /** Routes as JSON lines after the numeric one (if any): one, or several. */
  private readonly routes: (string | string[] | undefined)[];
  /** The numeric route, always the first one reported: its name code, or NO_ROUTE. */
  private readonly routeName: Int32Array;
  private readonly routeOutcome: Int8Array;
  /** NO_ATTEMPTS, EMPTY_ATTEMPTS or 1 (then the attempt's fields below). */
  private readonly routeAttempts: Int8Array;
  private readonly attemptAt: Float64Array;
  private readonly attemptMs: Float64Array;
  private readonly attemptStatus: Int32Array;
  private readonly routeNames: RouteName[] = [];
  private readonly routeCodes = {
    Trigger: new Map<string, number>(),
    Subscription: new Map<string, number>(),
  };
  private filled = 0;
  private next = 0;

  constructor(readonly size: number) {
    const n = Math.max(0, size);
    this.ids = new Array<string | undefined>(n).fill(undefined);
    this.sources = new Array<string>(n).fill("");
    this.namespaces = new Array<string>(n).fill("");
    this.streams = new Array<string>(n).fill("");
    this.types = new Array<string>(n).fill("");
    this.traceparents = new Array<string | undefined>(n).fill(undefined);
    this.routes = new Array<string | string[] | undefined>(n).fill(undefined);
    this.at = new Float64Array(n);
    this.sizes = new Float64Array(n);
    this.routeName = new Int32Array(n).fill(NO_ROUTE);
    this.routeOutcome = new Int8Array(n);
    this.routeAttempts = new Int8Array(n);
    this.attemptAt = new Float64Array(n);
    this.attemptMs = new Float64Array(n);
    this.attemptStatus = new Int32Array(n);
  }

  get length(): number {
    return this.filled;
  }

  add(namespace: string, id: string, source: string, accepted: AcceptedRecord): void {
    this.accept(
      namespace,
      id,
      source,
      accepted.at,
      accepted.stream,
      accepted.size,
      accepted.type,
      accepted.traceparent,
    );
  }

  /** `add` with the acceptance as arguments: no record is built per event. */
  accept(
    namespace: string,
    id: string,
    source: string,
    at: number,
    stream: string,
    size: number,
    type: string,
    traceparent: string | undefined,
  ): void {
    if (this.size <= 0) return;
    const slot = this.next;
    if (this.filled < this.size) this.filled++;
    else this.forget(slot);
    this.next = slot + 1 === this.size ? 0 : slot + 1;
    const held = this.sourceNames.of(source);
    this.ids[slot] = id;
    this.sources[slot] = held;
    this.namespaces[slot] = namespace;
    this.streams[slot] = stream;
    this.types[slot] = type;
    this.traceparents[slot] = traceparent;
    this.at[slot] = at;
    this.sizes[slot] = size;
    this.routes[slot] = undefined;
    this.routeName[slot] = NO_ROUTE;
    let index = this.byNamespace.get(namespace);
    if (index === undefined) {
      index = new Map();
      this.byNamespace.set(namespace, index);
    }
    const existing = index.get(id);
    if (existing === undefined) index.set(id, slot);
    else if (typeof existing === "number") {
      index.set(id, this.sources[existing] === held ? slot : [existing, slot]);
    } else {
      const same = existing.findIndex((s) => this.sources[s] === held);
      if (same >= 0) existing[same] = slot;
      else existing.push(slot);
    }
  }

  /** Adds or replaces the route of the same kind and name; false when the event is not held. */
  route(namespace: string, id: string, source: string, route: RouteRecord): boolean {
    const slot = this.find(namespace, id, source);
    if (slot === undefined) return false;
    const held = this.routeName[slot]!;
    if (held !== NO_ROUTE) {
      const name = this.routeNames[held]!;
      if (name.kind === route.kind && name.name === route.name) {
        if (!this.holdNumeric(slot, route)) {
          // Kept first, where the numeric route stood.
          this.routeName[slot] = NO_ROUTE;
          const line = routeLine(route);
          const rest = this.routes[slot];
          this.routes[slot] =
            rest === undefined ? line : Array.isArray(rest) ? [line, ...rest] : [line, rest];
        }
        return true;
      }
    }
    const rest = this.routes[slot];
    if (held === NO_ROUTE && rest === undefined && this.holdNumeric(slot, route)) return true;
    const prefix = linePrefix(route.kind, route.name);
    if (rest === undefined) this.routes[slot] = routeLine(route);
    else if (!Array.isArray(rest)) {
      this.routes[slot] = rest.startsWith(prefix) ? routeLine(route) : [rest, routeLine(route)];
    } else {
      const i = rest.findIndex((r) => r.startsWith(prefix));
      if (i >= 0) rest[i] = routeLine(route);
      else rest.push(routeLine(route));
    }
    return true;
  }

  /** Forgets one event (its acceptance was withdrawn); its ring slot is reused in turn. */
  remove(namespace: string, id: string, source: string): void {
    const slot = this.find(namespace, id, source);
    if (slot !== undefined) this.forget(slot);
  }

  /** Every source held under (namespace, id). */
  get(namespace: string, id: string): StoredJourney[] {
    const found = this.byNamespace.get(namespace)?.get(id);
    if (found === undefined) return [];
    return typeof found === "number"
      ? [this.journey(found)]
      : found.map((slot) => this.journey(slot));
  }

  /**
   * Holds `route` as numbers in `slot` when it is only a known outcome, a name, and no attempt or
   * one answered attempt (a delivery that succeeded at once); false when it is anything else.
   */
  private holdNumeric(slot: number, route: RouteRecord): boolean {
    if (route.replyId !== undefined || route.sink !== undefined || route.reason !== undefined) {
      return false;
    }
    const attempts = route.attempts;
    let count = NO_ATTEMPTS;
    if (attempts !== undefined) {
      if (attempts.length > 1) return false;
      count = attempts.length;
      if (count === 1) {
        const a = attempts[0]!;
        const status = a.status;
        if (a.error !== undefined || status === undefined) return false;
        if (!Number.isInteger(status) || status < 0 || status > 0x7fffffff) return false;
        if (!Number.isFinite(a.at) || !Number.isFinite(a.durationMs)) return false;
        this.attemptAt[slot] = a.at;
        this.attemptMs[slot] = a.durationMs;
        this.attemptStatus[slot] = status;
      }
    }
    const outcome = OUTCOME_CODES.get(route.outcome);
    const code = this.routeCode(route.kind, route.name);
    if (outcome === undefined || code === undefined) return false;
    // Any other field (not in RouteRecord today) would be lost: such a route is kept as JSON.
    if (Object.keys(route).length !== (attempts === undefined ? 3 : 4)) return false;
    this.routeName[slot] = code;
    this.routeOutcome[slot] = outcome;
    this.routeAttempts[slot] = count;
    return true;
  }

  private routeCode(kind: RouteRecord["kind"], name: string): number | undefined {
    const codes = this.routeCodes[kind];
    if (codes === undefined) return undefined;
    let code = codes.get(name);
    if (code === undefined) {
      if (this.routeNames.length >= ROUTE_NAME_LIMIT) return undefined;
      code = this.routeNames.length;
      this.routeNames.push({ kind, name });
      codes.set(name, code);
    }
    return code;
  }

  private numericRoute(slot: number): RouteRecord {
    const { kind, name } = this.routeNames[this.routeName[slot]!]!;
    const outcome = OUTCOMES[this.routeOutcome[slot]!]!;
    const count = this.routeAttempts[slot];
    if (count === NO_ATTEMPTS) return { kind, name, outcome };
    if (count === EMPTY_ATTEMPTS) return { kind, name, outcome, attempts: [] };
    const attempt = {
      at: this.attemptAt[slot]!,
      durationMs: this.attemptMs[slot]!,
      status: this.attemptStatus[slot]!,
    };
    return { kind, name, outcome, attempts: [attempt] };
  }

  private journey(slot: number): StoredJourney {
    const traceparent = this.traceparents[slot];
    const accepted: AcceptedRecord = {
      at: this.at[slot]!,
      stream: this.streams[slot]!,
      size: this.sizes[slot]!,
      type: this.types[slot]!,
      ...(traceparent === undefined ? {} : { traceparent }),
    };
    const routes: RouteRecord[] = [];
    if (this.routeName[slot] !== NO_ROUTE) routes.push(this.numericRoute(slot));
    const rest = this.routes[slot];
    if (typeof rest === "string") routes.push(parseRoute(rest));
    else if (rest !== undefined) for (const line of rest) routes.push(parseRoute(line));
    return { source: this.sources[slot]!, accepted, routes };
  }

  private find(namespace: string, id: string, source: string): number | undefined {
    const found = this.byNamespace.get(namespace)?.get(id);
    if (found === undefined) return undefined;
    if (typeof found === "number") return this.sources[found] === source ? found : undefined;
    return found.find((slot) => this.sources[slot] === source);
  }

  /** Empties a slot (pushed out or withdrawn) and drops it from the index. */
  private forget(slot: number): void {
    const id = this.ids[slot];
    if (id === undefined) return;
    this.ids[slot] = undefined;
    this.traceparents[slot] = undefined;
    this.routes[slot] = undefined;
    this.routeName[slot] = NO_ROUTE;
    const namespace = this.namespaces[slot]!;
    const index = this.byNamespace.get(namespace);
    const found = index?.get(id);
    if (index === undefined || found === undefined) return;
    if (found === slot) index.delete(id);
    else if (Array.isArray(found)) {
      const rest = found.filter((s) => s !== slot);
      if (rest.length === 0) index.delete(id);
      else index.set(id, rest.length === 1 ? rest[0]! : rest);
    }
    // Namespaces come and go (one per test run, per tenant): none is kept once it holds nothing.
    if (index.size === 0) this.byNamespace.delete(namespace);
  }

  /** Namespaces and (namespace, id) keys the index holds (for tests of eviction). */
  get indexed(): { namespaces: number; ids: number } {
    let ids = 0;
    for (const index of this.byNamespace.values()) ids += index.size;
    return { namespaces: this.byNamespace.size, ids };
  }
}
