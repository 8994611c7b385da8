/**
 * The in-memory index of journey reports that the Kafka, NATS and RabbitMQ journey stores build
 * by reading their engine's log of reports (a topic, a stream) from the start of its retention.
 * Each report carries its own expiry, since no log expires single reports exactly; the index
 * skips and sweeps what has expired and holds at most `maxEvents` (namespace, id) pairs,
 * dropping the earliest indexed first.
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

export class JourneyIndex {
  /** (namespace, id) → report slot → the latest report in that slot. */
  private readonly index = new Map<string, Map<string, JourneyReport>>();

  constructor(private readonly maxEvents = MAX_INDEXED_EVENTS) {}

  get size(): number {
    return this.index.size;
  }

  add(report: JourneyReport, slot: string = reportSlot(report)): void {
    const key = indexKey(report.namespace, report.id);
    let reports = this.index.get(key);
    if (reports === undefined) {
      reports = new Map();
      this.index.set(key, reports);
      if (this.index.size > this.maxEvents) {
        const oldest = this.index.keys().next().value;
        if (oldest !== undefined) this.index.delete(oldest);
      }
    }
    reports.set(slot, report);
  }

  /** Every source indexed under (namespace, id), without expired reports. */
  read(namespace: string, id: string, now = Date.now()): StoredJourney[] {
    const bySource = new Map<string, { accepted?: AcceptedRecord; routes: RouteRecord[] }>();
    for (const value of this.index.get(indexKey(namespace, id))?.values() ?? []) {
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
    for (const [key, reports] of this.index) {
      for (const [slot, value] of reports) {
        if (value.expiresAt <= now) reports.delete(slot);
      }
      if (reports.size === 0) this.index.delete(key);
    }
  }

  clear(): void {
    this.index.clear();
  }
}

function indexKey(namespace: string, id: string): string {
  return `${namespace}\u0000${id}`;
}
