import { describe, expect, it } from "vitest";
import { arrivalTime } from "../../src/broker/broker.js";

describe("knativearrivaltime formatting", () => {
  it("matches toISOString for every millisecond it is asked about, in any order", () => {
    const start = Date.UTC(2026, 10, 29, 23, 59, 58, 990);
    const moments: number[] = [];
    // Across a second, a minute, an hour and a day boundary, forwards, then back in time.
    for (let t = start; t < start + 2_050; t += 7) moments.push(t);
    moments.push(start + 1_000, start, start - 86_400_000, start + 10, start + 100, start + 1);
    moments.push(Date.UTC(2027, 0, 1, 0, 0, 0, 0), Date.UTC(2026, 1, 28, 12, 0, 0, 9));
    for (const now of moments) expect(arrivalTime(now)).toBe(new Date(now).toISOString());
  });

  it("gives the same string for calls within one millisecond", () => {
    const now = Date.UTC(2026, 10, 29, 12, 0, 0, 42);
    expect(arrivalTime(now)).toBe(arrivalTime(now));
    expect(arrivalTime(now)).toBe("2026-11-29T12:00:00.042Z");
  });
});
