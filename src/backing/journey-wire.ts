/**
 * The compact encoding of journey reports that the NATS and Kafka journey stores write: one
 * message (record) carries every report of one turn of the event loop as a JSON array of
 * `[namespace, id, source, expiresAt, "a" | "r", record]`, so the engine stores one message per
 * turn rather than one per report. Readers face whatever is in the log: anything that is not a
 * report of ours is skipped, never thrown.
 */
import type { AcceptedRecord, RouteRecord } from "./journey.js";
import type { JourneyReport } from "./journey-index.js";

/** One report on the wire: [namespace, id, source, expiresAt, "a" | "r", record]. */
export type WireReport = [string, string, string, number, "a" | "r", AcceptedRecord | RouteRecord];

/** The reports of one message; entries that are not reports of ours are skipped. */
export function parseJourneyMessage(text: string): JourneyReport[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const reports: JourneyReport[] = [];
  for (const entry of parsed as unknown[]) {
    const report = parseWireReport(entry);
    if (report !== undefined) reports.push(report);
  }
  return reports;
}

/** One wire report, or undefined when `entry` is not one. */
export function parseWireReport(entry: unknown): JourneyReport | undefined {
  if (!Array.isArray(entry) || entry.length !== 6) return undefined;
  const [namespace, id, source, expiresAt, kind, record] = entry as unknown[];
  if (
    typeof namespace !== "string" ||
    typeof id !== "string" ||
    typeof source !== "string" ||
    typeof expiresAt !== "number" ||
    typeof record !== "object" ||
    record === null ||
    Array.isArray(record)
  ) {
    return undefined;
  }
  if (kind === "a") {
    const accepted = record as AcceptedRecord;
    if (
      typeof accepted.at !== "number" ||
      typeof accepted.stream !== "string" ||
      typeof accepted.size !== "number" ||
      typeof accepted.type !== "string"
    ) {
      return undefined;
    }
    return { namespace, id, source, expiresAt, accepted };
  }
  if (kind === "r") {
    const route = record as RouteRecord;
    if (
      (route.kind !== "Trigger" && route.kind !== "Subscription") ||
      typeof route.name !== "string" ||
      typeof route.outcome !== "string"
    ) {
      return undefined;
    }
    return { namespace, id, source, expiresAt, route };
  }
  return undefined;
}

/** `reports` (JSON each) joined into JSON arrays of at most `maxChars` (or one report). */
export function* journeyMessages(reports: readonly string[], maxChars: number): Generator<string> {
  let start = 0;
  let chars = 2;
  for (let i = 0; i < reports.length; i++) {
    const length = reports[i]!.length + 1;
    if (i > start && chars + length > maxChars) {
      yield `[${reports.slice(start, i).join(",")}]`;
      start = i;
      chars = 2;
    }
    chars += length;
  }
  if (start < reports.length) yield `[${reports.slice(start).join(",")}]`;
}
