import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DeadLetterRecord } from "../../../src/backing/dead-letter.js";
import {
  decodeDeadLetter,
  encodeDeadLetter,
} from "../../../src/backing/rabbitmq/dead-letter-store.js";
import { decodeJourneyReports } from "../../../src/backing/rabbitmq/journey-store.js";

/** Any bytes, JSON-looking text, and the first line of an entry followed by anything. */
const body = fc.oneof(
  fc.uint8Array({ maxLength: 128 }).map((bytes) => Buffer.from(bytes)),
  fc.json().map((text) => Buffer.from(text)),
  fc
    .tuple(fc.json(), fc.oneof(fc.json(), fc.string()))
    .map(([meta, rest]) => Buffer.from(`${meta}\n${rest}`)),
  fc
    .tuple(fc.anything(), fc.anything())
    .map(([meta, rest]) => Buffer.from(`${JSON.stringify(meta)}\n${JSON.stringify(rest)}`)),
);

const record: fc.Arbitrary<DeadLetterRecord> = fc.record(
  {
    event: fc.record(
      {
        attributes: fc.record({
          specversion: fc.constant("1.0"),
          id: fc.string({ minLength: 1 }),
          source: fc.string({ minLength: 1 }),
          type: fc.string({ minLength: 1 }),
        }),
        data: fc.uint8Array({ minLength: 1, maxLength: 256 }).map((bytes) => Buffer.from(bytes)),
      },
      { requiredKeys: ["attributes"] },
    ),
    kind: fc.constantFrom("Trigger", "Subscription"),
    name: fc.string(),
    knativeerrordest: fc.string(),
    knativeerrorcode: fc.string(),
    knativeerrordata: fc.base64String(),
    attempts: fc.nat(),
    at: fc.nat(),
    error: fc.string({ unit: "binary" }),
    step: fc.constant("reply" as const),
  },
  { requiredKeys: ["event", "kind", "name", "knativeerrordest", "attempts", "at"] },
);

describe("fuzz: RabbitMQ dead-letter entries read from the stream", () => {
  it("an encoded record comes back exactly, whatever its text and bytes", () => {
    fc.assert(
      fc.property(record, fc.nat(), (kept, offset) => {
        expect(decodeDeadLetter(encodeDeadLetter(kept), offset)).toEqual({
          ...kept,
          entryId: String(offset),
        });
      }),
      { numRuns: 1_000 },
    );
  });

  it("any other body is refused with undefined or read as a well-typed entry, never thrown", () => {
    fc.assert(
      fc.property(body, (content) => {
        const entry = decodeDeadLetter(content, 7);
        if (entry === undefined) return;
        expect(["Trigger", "Subscription"]).toContain(entry.kind);
        expect(typeof entry.name).toBe("string");
        expect(typeof entry.knativeerrordest).toBe("string");
        expect(Number.isFinite(entry.attempts) && Number.isFinite(entry.at)).toBe(true);
        expect(entry.entryId).toBe("7");
      }),
      { numRuns: 2_000 },
    );
  });
});

describe("fuzz: RabbitMQ journey reports read from the stream", () => {
  const report = fc.tuple(
    fc.string(),
    fc.record(
      {
        namespace: fc.string(),
        id: fc.string(),
        source: fc.string(),
        expiresAt: fc.nat(),
        route: fc.record({
          kind: fc.constantFrom("Trigger" as const, "Subscription" as const),
          name: fc.string(),
          outcome: fc.constantFrom("pending" as const, "delivered" as const),
        }),
      },
      { requiredKeys: ["namespace", "id", "source", "expiresAt", "route"] },
    ),
  );

  it("a batch of reports comes back exactly", () => {
    fc.assert(
      fc.property(fc.array(report, { maxLength: 8 }), (reports) => {
        expect(decodeJourneyReports(Buffer.from(JSON.stringify(reports)))).toEqual(reports);
      }),
    );
  });

  it("any other body yields only well-typed reports, never throws", () => {
    const mixed = fc.oneof(
      body,
      fc
        .array(fc.oneof(report, fc.anything()), { maxLength: 6 })
        .map((items) => Buffer.from(JSON.stringify(items))),
    );
    fc.assert(
      fc.property(mixed, (content) => {
        for (const [key, value] of decodeJourneyReports(content)) {
          expect(typeof key).toBe("string");
          expect(typeof value.namespace).toBe("string");
          expect(typeof value.id).toBe("string");
          expect(typeof value.source).toBe("string");
          expect(value.accepted !== undefined || value.route !== undefined).toBe(true);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
