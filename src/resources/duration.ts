/**
 * ISO-8601 durations as Knative's delivery fields take them (`PT0.2S`, `PT5M`, `P1DT2H`).
 * Calendar units have no fixed length, so they are approximated the usual way: a year is 365
 * days, a month 30 days, a week 7 days, a day 24 hours.
 */

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const NUMBER = "(\\d+(?:[.,]\\d+)?)";
const DURATION = new RegExp(
  `^P(?:${NUMBER}Y)?(?:${NUMBER}M)?(?:${NUMBER}W)?(?:${NUMBER}D)?` +
    `(?:T(?:${NUMBER}H)?(?:${NUMBER}M)?(?:${NUMBER}S)?)?$`,
);
const UNIT_MS = [365 * DAY, 30 * DAY, 7 * DAY, DAY, HOUR, MINUTE, SECOND];

/**
 * The duration in milliseconds, or undefined when `text` is not a non-negative ISO-8601 duration.
 * Only the smallest unit given may carry a fraction (`PT1.5S`, not `PT1.5M30S`).
 */
export function parseIsoDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  const parts = match.slice(1);
  const given = parts.flatMap((part, index) => (part === undefined ? [] : [index]));
  if (given.length === 0) return undefined;
  // "P1DT" has a time designator with no time component after it.
  if (text.endsWith("T")) return undefined;
  let total = 0;
  for (const index of given) {
    const part = parts[index]!;
    const fractional = /[.,]/.test(part);
    if (fractional && index !== given.at(-1)) return undefined;
    total += Number(part.replace(",", ".")) * UNIT_MS[index]!;
  }
  // Round away binary noise (1.005 * 1000) at microsecond precision.
  return Math.round(total * 1_000) / 1_000;
}
