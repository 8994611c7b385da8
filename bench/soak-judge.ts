/**
 * The soak's verdict over its per-interval samples (soak.ts): memory that keeps climbing, or a p99
 * that drifts, fails the run. Pure, so its arithmetic has unit tests.
 */

export interface SoakSample {
  /** Minutes since the load started, at the end of the interval. */
  readonly minute: number;
  /** Resident set size of the Eventail process, MB. */
  readonly rssMb: number;
  /** p99 latency of the fast subscriber's deliveries in the interval, ms. */
  readonly p99Ms: number;
}

export interface SoakLimits {
  /** Least-squares RSS slope over the last half of the run that fails it, MB per minute. */
  readonly maxSlopeMbPerMinute: number;
  /** How much the later p99 may exceed the earlier one (2 = twice). */
  readonly maxP99Drift: number;
  /** p99 below this is scheduler noise on a shared machine, never drift, ms. */
  readonly p99FloorMs: number;
  /**
   * Shortest stretch each judgement needs, minutes: a slope over seconds-apart samples measures
   * one collection, not a trend, so a short smoke run reports but does not judge.
   */
  readonly minSpanMinutes: number;
}

/**
 * A leak of 100 bytes per event at the soak's 400 events/s is 2.4 MB a minute; a healthy process
 * settles once its heap has grown to its working set, so a steady climb past 2 MB a minute over
 * the second half is a leak, not warm-up. p99 under 5 ms moves by more than 2x with one
 * collection pause or a neighbour's burst on two cores, so drift is judged only above that floor.
 */
export const DEFAULT_LIMITS: SoakLimits = {
  maxSlopeMbPerMinute: 2,
  maxP99Drift: 2,
  p99FloorMs: 5,
  minSpanMinutes: 3,
};

export interface SoakVerdict {
  /** RSS slope over the last half, MB per minute (undefined when too short to judge). */
  readonly slopeMbPerMinute: number | undefined;
  /** Median p99 of the first half (after the first sample, a warm-up) and of the last half. */
  readonly earlyP99Ms: number | undefined;
  readonly lateP99Ms: number | undefined;
  /** Why the run failed; empty when it passed. */
  readonly failures: string[];
}

/** Slope of the least-squares line through (x, y) points; undefined for fewer than two. */
export function leastSquaresSlope(
  points: readonly (readonly [number, number])[],
): number | undefined {
  if (points.length < 2) return undefined;
  const n = points.length;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) * (x - mx);
  }
  return den === 0 ? undefined : num / den;
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function judgeSoak(
  samples: readonly SoakSample[],
  limits: SoakLimits = DEFAULT_LIMITS,
): SoakVerdict {
  const failures: string[] = [];
  const lastHalf = samples.slice(Math.floor(samples.length / 2));
  const span = (part: readonly SoakSample[]) =>
    part.length === 0 ? 0 : part[part.length - 1]!.minute - part[0]!.minute;
  const slope =
    lastHalf.length >= 3 && span(lastHalf) >= limits.minSpanMinutes
      ? leastSquaresSlope(lastHalf.map((s) => [s.minute, s.rssMb] as const))
      : undefined;
  if (slope !== undefined && slope > limits.maxSlopeMbPerMinute) {
    failures.push(
      `RSS keeps climbing: ${slope.toFixed(2)} MB/min over the last ${lastHalf.length} samples ` +
        `(limit ${limits.maxSlopeMbPerMinute} MB/min)`,
    );
  }
  // The first sample includes start-up and the first connections: a warm-up, not the baseline.
  const measured = samples.slice(1);
  const half = Math.floor(measured.length / 2);
  const early = median(measured.slice(0, half).map((s) => s.p99Ms));
  const late = median(measured.slice(half).map((s) => s.p99Ms));
  if (
    span(measured) >= limits.minSpanMinutes &&
    early !== undefined &&
    late !== undefined &&
    late > limits.p99FloorMs &&
    late > limits.maxP99Drift * Math.max(early, limits.p99FloorMs / limits.maxP99Drift)
  ) {
    failures.push(
      `p99 drifted from ${early.toFixed(2)} ms to ${late.toFixed(2)} ms ` +
        `(limit ${limits.maxP99Drift}x, judged above ${limits.p99FloorMs} ms)`,
    );
  }
  return { slopeMbPerMinute: slope, earlyP99Ms: early, lateP99Ms: late, failures };
}
