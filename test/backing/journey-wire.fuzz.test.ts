import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseJourneyMessage } from "../../src/backing/journey-wire.js";
import { wireReport } from "../support/journey-wire-arbitrary.js";

const report = wireReport;

describe("fuzz: journey message (NATS, Kafka) → reports", () => {
  it("never throws on any text, and keeps only well-typed reports", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        for (const parsed of parseJourneyMessage(text)) {
          expect(typeof parsed.namespace).toBe("string");
          expect(typeof parsed.id).toBe("string");
          expect(typeof parsed.source).toBe("string");
          expect(typeof parsed.expiresAt).toBe("number");
          expect((parsed.accepted === undefined) !== (parsed.route === undefined)).toBe(true);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it("reads back every report written, among entries that are not reports", () => {
    fc.assert(
      fc.property(
        fc.array(report, { maxLength: 8 }),
        fc.array(fc.jsonValue(), { maxLength: 4 }),
        (reports, noise) => {
          const parsed = parseJourneyMessage(JSON.stringify([...noise, ...reports]));
          // Noise is skipped (a noise entry shaped like a report would come first).
          const tail = parsed.slice(parsed.length - reports.length);
          expect(tail).toEqual(
            reports.map(([namespace, id, source, expiresAt, kind, record]) =>
              kind === "a"
                ? { namespace, id, source, expiresAt, accepted: record }
                : { namespace, id, source, expiresAt, route: record },
            ),
          );
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
