import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ENUM_MAX_LENGTH,
  ENUM_MIN_SEEN,
  inferSchema,
  type JsonSchema,
  MAX_PROPERTIES,
  mergeSchemas,
  widen,
} from "../../src/operations/schema-infer.js";
import { createAjv } from "../../src/operations/schema-validator.js";

const ajv = createAjv();
const accepts = (schema: JsonSchema, value: unknown) => ajv.validate(schema as object, value);

/** Strings that sometimes carry a format inference recognises. */
const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.uuid(),
  fc.emailAddress(),
  fc.webUrl(),
  fc.constantFrom("open", "closed", "pending"),
);
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    text,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom("a", "b", "c", "d/e", "f~g"), tie("value"), { maxKeys: 4 }),
  ),
})).value;

describe("schema inference", () => {
  it("every event folded in validates against the widened schema", () => {
    fc.assert(
      fc.property(fc.array(json, { minLength: 1, maxLength: 25 }), (values) => {
        let schema: JsonSchema | undefined;
        for (const value of values) schema = widen(schema, value);
        for (const value of values) expect(accepts(schema!, value)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("merge is commutative on validation and accepts what either side accepts", () => {
    fc.assert(
      fc.property(
        fc.array(json, { minLength: 1, maxLength: 6 }),
        fc.array(json, { minLength: 1, maxLength: 6 }),
        fc.array(json, { maxLength: 10 }),
        (left, right, probes) => {
          const a = left.map(inferSchema).reduce(mergeSchemas);
          const b = right.map(inferSchema).reduce(mergeSchemas);
          const ab = mergeSchemas(a, b);
          const ba = mergeSchemas(b, a);
          for (const value of [...left, ...right, ...probes]) {
            expect(accepts(ab, value)).toBe(accepts(ba, value));
          }
          for (const value of [...left, ...right]) expect(accepts(ab, value)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("required keeps the fields every event had; formats and nesting are inferred", () => {
    const schema = [
      {
        id: "7b0c2f5e-8a3d-4c1e-9f6b-2d4e6f8a0b1c",
        at: "2026-12-07T03:50:57Z",
        items: [{ sku: "a", n: 1 }],
      },
      {
        id: "0b0c2f5e-8a3d-4c1e-9f6b-2d4e6f8a0b1c",
        at: "2026-12-07T04:00:00.5+01:00",
        items: [],
        note: "x",
      },
    ].reduce<JsonSchema | undefined>(widen, undefined)!;
    expect(schema.required).toEqual(["at", "id", "items"]);
    expect(schema.properties?.["at"]?.format).toBe("date-time");
    expect(schema.properties?.["id"]?.format).toBe("uuid");
    expect(schema.properties?.["items"]?.items?.required).toEqual(["n", "sku"]);
    expect(schema.properties?.["items"]?.items?.properties?.["n"]?.type).toBe("integer");
    expect(accepts(schema, { id: "x", at: "2026-12-07T03:50:57Z", items: [] })).toBe(false);
    expect(widen(widen(undefined, 1), 1.5).type).toBe("number");
  });

  it("a string field becomes an enum only after enough events with few values", () => {
    let schema: JsonSchema | undefined;
    for (let i = 0; i < ENUM_MIN_SEEN - 1; i++)
      schema = widen(schema, { s: i % 2 ? "open" : "closed" });
    expect(schema!.properties?.["s"]?.enum).toBeUndefined();
    schema = widen(schema, { s: "open" });
    expect(schema.properties?.["s"]?.enum).toEqual(["closed", "open"]);
    expect(accepts(schema, { s: "other" })).toBe(false);
    schema = widen(schema, { s: "other" });
    expect(accepts(schema, { s: "other" })).toBe(true);
    for (const s of ["p", "q", "r", "t"]) schema = widen(schema, { s });
    // Six distinct values: never an enum again.
    for (let i = 0; i < 50; i++) schema = widen(schema, { s: "open" });
    expect(schema.properties?.["s"]?.enum).toBeUndefined();
  });

  it("a map keyed by data stays one object node, so the schema does not grow per event", () => {
    const map = (from: number) =>
      Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`user${from + i}`, i]));
    let schema = widen(undefined, { counts: map(0), n: 1 });
    expect(Object.keys(schema.properties?.["counts"]?.properties ?? {})).toHaveLength(60);
    schema = widen(schema, { counts: map(60), n: 2 });
    // 120 distinct names > MAX_PROPERTIES: any object, from now on.
    expect(MAX_PROPERTIES).toBeLessThan(120);
    expect(schema.properties?.["counts"]).toEqual({ type: "object" });
    schema = widen(schema, { counts: map(1000), n: 3 });
    expect(schema.properties?.["counts"]).toEqual({ type: "object" });
    expect(schema.required).toEqual(["counts", "n"]);
    for (const from of [0, 60, 1000])
      expect(accepts(schema, { counts: map(from), n: 1 })).toBe(true);
    expect(accepts(schema, { counts: 1, n: 1 })).toBe(false);
  });

  it("long strings are not sampled: text never becomes an enum nor sits in the schema", () => {
    const long = "x".repeat(ENUM_MAX_LENGTH + 1);
    let schema: JsonSchema | undefined;
    for (let i = 0; i < ENUM_MIN_SEEN * 2; i++) schema = widen(schema, { note: long });
    expect(schema!.properties?.["note"]).toEqual({ type: "string" });
    expect(JSON.stringify(schema)).not.toContain(long);
  });
});
