import { InvalidArgumentError } from "commander";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { durationFlag, positiveIntegerFlag, tlsAndLimits } from "../../src/cli/run-options.js";

describe("eventail run's duration flags (--header-timeout, --body-timeout)", () => {
  it.each([
    ["ISO-8601 seconds", "PT10S", 10_000],
    ["ISO-8601 minutes", "PT1M", 60_000],
    ["ISO-8601 with a fraction", "PT0.5S", 500],
    ["plain seconds", "10", 10_000],
    ["plain fractional seconds", "0.25", 250],
  ])("takes %s (%s)", (_name, text, ms) => {
    expect(durationFlag(text)).toBe(ms);
  });

  it.each([
    ["zero seconds (Node reads 0 as no limit)", "0"],
    ["a zero ISO duration", "PT0S"],
    ["a negative number", "-5"],
    ["a unit suffix that is not ISO-8601", "10s"],
    ["text", "soon"],
    ["an empty value", ""],
  ])("refuses %s", (_name, text) => {
    expect(() => durationFlag(text)).toThrow(InvalidArgumentError);
  });

  it("either answers a positive whole number of milliseconds or refuses, whatever the text", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          const ms = durationFlag(text);
          expect(Number.isSafeInteger(ms) && ms >= 1).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidArgumentError);
        }
      }),
    );
  });
});

describe("--max-connections", () => {
  it.each([
    ["1", 1],
    ["10000", 10_000],
  ])("takes %s", (text, n) => expect(positiveIntegerFlag(text)).toBe(n));

  it.each([["0"], ["-1"], ["1.5"], ["ten"], ["1e3"]])("refuses %s", (text) => {
    expect(() => positiveIntegerFlag(text)).toThrow(InvalidArgumentError);
  });
});

describe("tlsAndLimits", () => {
  it.each([
    ["only --tls-cert", { tlsCert: "c" }],
    ["only --tls-key", { tlsKey: "k" }],
  ])("refuses %s", (_name, flags) => {
    expect(tlsAndLimits(flags)).toEqual({ error: expect.stringContaining("go together") });
  });

  it("passes both files and the limits given, and no limit that was not", () => {
    expect(tlsAndLimits({ tlsCert: "c", tlsKey: "k", headerTimeout: 5_000 })).toEqual({
      tls: { certFile: "c", keyFile: "k" },
      limits: { headerTimeoutMs: 5_000 },
    });
  });
});
