/**
 * The in-memory index of journey reports that the Kafka, NATS and RabbitMQ journey stores build
 * by reading their engine's log of reports (a topic, a stream) from the start of its retention.
 * Each report carries its own expiry, since no log expires single reports exactly; the index
 * skips and sweeps what has expired and holds at most `maxEvents` (namespace, id) pairs,
 * dropping the earliest indexed first.
 *
 * The stores read a log twice at once: a tail near its end (`add`), which a
 * lookup waits for, and a backfill of the older part (`addOlder`), which it does not. A backfill
 * report is older than any tail report, so it never replaces one, and its events are dropped
 * first when the index is full; a backfill reads in log order, so its later reports replace its
 * own earlier ones (a route's `pending` by its `delivered`).
 */
import type { AcceptedRecord, RouteRecord, StoredJourney } from "./journey.js";

export interface JourneyReport {
  readonly namespace: string;
  readonly id: string;
  readonly source: string;
  /** Epoch milliseconds after which the report is gone. */
  readonly expiresAt: number;
  readonly accepted?: AcceptedRecord;
  readonly route?: RouteRecord;
}

export const MAX_INDEXED_EVENTS = 200_000;

/**
 * What a report replaces within its (namespace, id): the acceptance of a source, or one route of
 * a source (a route's later outcome replaces its earlier one).
 */
export function reportSlot(report: JourneyReport): string {
  return report.route === undefined
    ? `${report.source}\u0000a`
    : `${report.source}\u0000r\u0000${report.route.kind}\u0000${report.route.name}`;
}

/** Epoch milliseconds of a route's latest attempt, when it made one. */
function lastAttempt(route: RouteRecord): number | undefined {
  const attempts = route.attempts;
  if (attempts === undefined || attempts.length === 0) return undefined;
  let last = attempts[0]!.at;
  for (let i = 1; i < attempts.length; i++) last = Math.max(last, attempts[i]!.at);
  return last;
}

/**
 * Whether `next` says more about a route than `current`, in whichever order the two were read.
 * Two processes can report one route (a redelivery after a restart or a rebalance) through
 * different partitions, buckets or layouts, so read order alone could put a stale `pending`
 * after the `delivered` that ended it. The report whose latest attempt is later wins; with no
 * attempts to tell them apart, an outcome beats `pending`, and otherwise the later read wins.
 */
export function routeSupersedes(next: RouteRecord, current: RouteRecord): boolean {
  return routePrecedence(next, current) >= 0;
}

/**
 * > 0 when `next` says more than `current`, < 0 when less, 0 when nothing tells them apart (then
 * read order decides: the later read, or for a backfill the report already indexed).
 */
function routePrecedence(next: RouteRecord, current: RouteRecord): number {
  const a = lastAttempt(next);
  const b = lastAttempt(current);
  if (a !== undefined && b !== undefined && a !== b) return a > b ? 1 : -1;
  const nextPending = next.outcome === "pending";
  const currentPending = current.outcome === "pending";
  return nextPending === currentPending ? 0 : nextPending ? -1 : 1;
}

export class JourneyIndex {
  /** (namespace, id) → report slot → the latest report in that slot, for events `add` indexed. */
  private readonly index = new Map<string, Map<string, JourneyReport>>();
  /** The same for events only `addOlder` indexed, dropped before any of `index`. */
  private readonly older = new Map<string, Map<string, JourneyReport>>();
  /** Reports `addOlder` put in a slot: the only ones another `addOlder` may replace. */
  private fromOlder = new WeakSet<JourneyReport>();

  constructor(private readonly maxEvents = MAX_INDEXED_EVENTS) {}

  get size(): number {
    return this.index.size + this.older.size;
  }

  /** Indexes a report newer than any indexed before (in log order). */
  add(report: JourneyReport, slot: string = reportSlot(report)): void {
    const key = indexKey(report.namespace, report.id);
    let reports = this.index.get(key);
    if (reports === undefined) {
      // An older-indexed event reported again is as new as this report now.
      const moved = this.older.get(key);
      if (moved !== undefined) this.older.delete(key);
      reports = moved ?? new Map<string, JourneyReport>();
      this.index.set(key, reports);
      if (moved === undefined && this.size > this.maxEvents) {
        const from = this.older.size > 0 ? this.older : this.index;
        const oldest = from.keys().next().value;
        if (oldest !== undefined) from.delete(oldest);
      }
    }
    const present = reports.get(slot);
    if (present?.route && report.route && !routeSupersedes(report.route, present.route)) return;
    reports.set(slot, report);
  }

  /**
   * Indexes a report older than every `add`ed one (a backfill reading, in log order, the part of
   * the log before where `add`'s reader started): it fills only a slot that is empty or holds an
   * earlier `addOlder` report, and a new event comes in only in place of an older-indexed one
   * once the index is full.
   */
  addOlder(report: JourneyReport, slot: string = reportSlot(report)): void {
    const key = indexKey(report.namespace, report.id);
    let reports = this.index.get(key) ?? this.older.get(key);
    if (reports === undefined) {
      if (this.size >= this.maxEvents) {
        const oldest = this.older.keys().next().value;
        if (oldest === undefined) return;
        this.older.delete(oldest);
      }
      reports = new Map();
      this.older.set(key, reports);
    }
    const present = reports.get(slot);
    if (present !== undefined) {
      // A route's reports are compared (another partition's may be newer than the tail's); on
      // a tie, and for an acceptance, what the tail read stands: a backfill report is older.
      const precedence =
        present.route && report.route ? routePrecedence(report.route, present.route) : 0;
      if (precedence < 0 || (precedence === 0 && !this.fromOlder.has(present))) return;
    }
    this.fromOlder.add(report);
    reports.set(slot, report);
  }

  /**
   * Lets `addOlder` replace everything indexed so far: a reader starts again (a new connection)
   * with a backfill that reads past where the earlier reader had got to.
   */
  demote(): void {
    for (const [key, reports] of this.index) {
      for (const report of reports.values()) this.fromOlder.add(report);
      this.older.set(key, reports);
    }
    for (const reports of this.older.values()) {
      for (const report of reports.values()) this.fromOlder.add(report);
    }
    this.index.clear();
  }

  /** Every source indexed under (namespace, id), without expired reports. */
  read(namespace: string, id: string, now = Date.now()): StoredJourney[] {
    const bySource = new Map<string, { accepted?: AcceptedRecord; routes: RouteRecord[] }>();
    const key = indexKey(namespace, id);
    for (const value of (this.index.get(key) ?? this.older.get(key))?.values() ?? []) {
      if (value.expiresAt <= now) continue;
      let entry = bySource.get(value.source);
      if (entry === undefined) {
        entry = { routes: [] };
        bySource.set(value.source, entry);
      }
      if (value.accepted !== undefined) entry.accepted = value.accepted;
      if (value.route !== undefined) entry.routes.push(value.route);
    }
    return [...bySource].map(([source, entry]) => ({ source, ...entry }));
  }

  /** Drops expired reports, and events left without any. */
  sweep(now = Date.now()): void {
    for (const map of [this.index, this.older]) {
      for (const [key, reports] of map) {
        for (const [slot, value] of reports) {
          if (value.expiresAt <= now) reports.delete(slot);
        }
        if (reports.size === 0) map.delete(key);
      }
    }
  }

  clear(): void {
    this.index.clear();
    this.older.clear();
    this.fromOlder = new WeakSet();
  }
}

function indexKey(namespace: string, id: string): string {
  return `${namespace}\u0000${id}`;
}
