import { describe, expect, it } from "vitest";
import { parseIsoDuration } from "../../src/resources/duration.js";

describe("parseIsoDuration", () => {
  it.each([
    ["fractional seconds (Knative's default backoffDelay)", "PT0.2S", 200],
    ["minutes (the default retryAfterMax)", "PT5M", 300_000],
    ["days and hours combined across the T designator", "P1DT2H", 93_600_000],
    ["zero, which retryAfterMax uses to ignore Retry-After", "PT0S", 0],
    ["hours, minutes and seconds together", "PT1H2M3S", 3_723_000],
    ["a comma as the decimal sign, which ISO-8601 allows", "PT1,5S", 1_500],
    ["weeks as 7 days", "P1W", 604_800_000],
    ["years and months as 365 and 30 days", "P1Y1M", 395 * 86_400_000],
    ["a fraction without binary noise", "PT1.005S", 1_005],
    ["a fraction on the smallest unit given", "PT1M0.5S", 60_500],
  ])("reads %s: %s = %d ms", (_what, text, ms) => {
    expect(parseIsoDuration(text)).toBe(ms);
  });

  it.each([
    ["a Go-style duration", "5s"],
    ["a bare P", "P"],
    ["a bare PT", "PT"],
    ["a time designator with nothing after it", "P1DT"],
    ["a negative duration", "-PT1S"],
    ["lower-case designators", "pt1s"],
    ["a fraction on a unit that is not the smallest given", "PT1.5M30S"],
    ["units out of order", "PT1S2M"],
    ["minutes without the T designator (M means months there)", "P1M30S"],
    ["an empty string", ""],
    ["surrounding spaces", " PT1S "],
  ])("rejects %s: %j", (_what, text) => {
    expect(parseIsoDuration(text)).toBeUndefined();
  });
});
