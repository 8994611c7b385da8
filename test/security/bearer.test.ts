import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_TOKEN_LENGTH, parseBearer } from "../../src/security/bearer.js";

describe("parseBearer", () => {
  it.each([
    ["no header", undefined, { kind: "missing" }],
    ["an empty header", "", { kind: "missing" }],
    ["another scheme", "Basic dXNlcjpwYXNz", { kind: "missing" }],
    ["a scheme that only starts like Bearer", "Bearerx abc", { kind: "missing" }],
    ["a token", "Bearer abc.def.ghi", { kind: "token", token: "abc.def.ghi" }],
    ["the scheme in any case", "bEaReR abc", { kind: "token", token: "abc" }],
    ["extra spaces around the token", "  Bearer   abc  ", { kind: "token", token: "abc" }],
    ["padding at the end", "Bearer YWJj==", { kind: "token", token: "YWJj==" }],
  ])("%s", (_name, header, expected) => {
    expect(parseBearer(header)).toEqual(expected);
  });

  it.each([
    ["the scheme alone", "Bearer", "hold no token"],
    ["two tokens", "Bearer abc def", "characters a bearer token cannot"],
    ["a quote", 'Bearer "abc"', "characters a bearer token cannot"],
    ["padding in the middle", "Bearer ab=c", "characters a bearer token cannot"],
    ["an overlong token", `Bearer ${"a".repeat(MAX_TOKEN_LENGTH + 1)}`, "longer than"],
  ])("calls %s malformed", (_name, header, reason) => {
    const parsed = parseBearer(header);
    expect(parsed.kind).toBe("malformed");
    expect(parsed.kind === "malformed" && parsed.reason).toContain(reason);
  });

  it("refuses two Authorization headers", () => {
    expect(parseBearer(["Bearer a", "Bearer b"]).kind).toBe("malformed");
  });

  it("never throws, and only ever returns a token that could be one (fuzz)", () => {
    const header = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ maxLength: 300 }).map((s) => `Bearer ${s}`),
      fc.string({ unit: "binary", maxLength: 300 }).map((s) => `bearer ${s}`),
      fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }),
      fc.constant(undefined),
    );
    fc.assert(
      fc.property(header, (value) => {
        const parsed = parseBearer(value);
        if (parsed.kind === "token") {
          expect(parsed.token).toMatch(/^[A-Za-z0-9\-._~+/]+=*$/);
          expect(parsed.token.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
