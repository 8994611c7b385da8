import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { JourneyReport } from "../../../src/backing/journey-index.js";
import { journeyMessages } from "../../../src/backing/journey-wire.js";
import { decodeJourneyRecord } from "../../../src/backing/kafka/journey-store.js";
import { wireRoute as route, wireReport } from "../../support/journey-wire-arbitrary.js";

const wire = wireReport;
type Wire = [string, string, string, number, string, object];

function expected([namespace, id, source, expiresAt, kind, record]: Wire): JourneyReport {
  return kind === "a"
    ? { namespace, id, source, expiresAt, accepted: record as JourneyReport["accepted"] }
    : { namespace, id, source, expiresAt, route: record as JourneyReport["route"] };
}

function wellTyped(report: JourneyReport): void {
  expect(typeof report.namespace).toBe("string");
  expect(typeof report.id).toBe("string");
  expect(typeof report.source).toBe("string");
  expect(typeof report.expiresAt).toBe("number");
  expect((report.accepted === undefined) !== (report.route === undefined)).toBe(true);
}

describe("fuzz: Kafka journey record → reports", () => {
  it("reads back every report of a turn, however the turn is split into records", () => {
    fc.assert(
      fc.property(
        fc.array(wire, { maxLength: 20 }),
        fc.integer({ min: 2, max: 400 }),
        (reports, max) => {
          const records = [
            ...journeyMessages(
              reports.map((r) => JSON.stringify(r)),
              max,
            ),
          ];
          const read = records.flatMap((text) => decodeJourneyRecord(Buffer.from(text, "utf8")));
          expect(read).toEqual(reports.map((r) => expected(r as Wire)));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it("reads a report an earlier version wrote (one JSON object a record)", () => {
    fc.assert(
      fc.property(wire, (report) => {
        const value = expected(report as Wire);
        expect(decodeJourneyRecord(Buffer.from(JSON.stringify(value), "utf8"))).toEqual([value]);
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on any bytes or JSON, and keeps only well-typed reports", () => {
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
      fc.string().map((text) => Buffer.from(text, "utf8")),
      fc.jsonValue().map((json) => Buffer.from(JSON.stringify(json) ?? "", "utf8")),
      fc
        .record({
          namespace: fc.jsonValue(),
          id: fc.string(),
          source: fc.string(),
          expiresAt: fc.jsonValue(),
          accepted: fc.option(fc.jsonValue(), { nil: undefined }),
          route: fc.option(fc.oneof(route, fc.jsonValue()), { nil: undefined }),
        })
        .map((object) => Buffer.from(JSON.stringify(object), "utf8")),
    );
    fc.assert(
      fc.property(garbage, (bytes) => {
        for (const report of decodeJourneyRecord(bytes)) wellTyped(report);
      }),
      { numRuns: 3_000 },
    );
  });
});
