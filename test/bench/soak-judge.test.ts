import { describe, expect, it } from "vitest";
import { judgeSoak, leastSquaresSlope, type SoakSample } from "../../bench/soak-judge.js";

const steady = (minute: number, rssMb: number, p99Ms = 3): SoakSample => ({ minute, rssMb, p99Ms });

describe("soak verdict", () => {
  it("leastSquaresSlope fits a line exactly and needs two distinct x", () => {
    expect(
      leastSquaresSlope([
        [1, 10],
        [2, 12],
        [3, 14],
      ]),
    ).toBeCloseTo(2);
    expect(leastSquaresSlope([[1, 10]])).toBeUndefined();
    expect(
      leastSquaresSlope([
        [1, 10],
        [1, 12],
      ]),
    ).toBeUndefined();
  });

  it.each([
    {
      name: "warm-up growth that levels off passes",
      rss: [60, 80, 95, 100, 101, 100, 101, 100, 101, 100],
      fails: false,
    },
    {
      name: "a steady climb of 3 MB/min over the last half fails",
      rss: [60, 63, 66, 69, 72, 75, 78, 81, 84, 87],
      fails: true,
    },
    {
      name: "noise around a level passes",
      rss: [90, 92, 89, 93, 90, 92, 89, 93, 90, 92],
      fails: false,
    },
  ])("$name", ({ rss, fails }) => {
    const verdict = judgeSoak(rss.map((r, i) => steady(i + 1, r)));
    expect(verdict.failures.length > 0).toBe(fails);
    if (fails) expect(verdict.failures[0]).toMatch(/RSS keeps climbing: 3\.00 MB\/min/);
  });

  it("judges nothing over a stretch too short for a trend (the CI smoke)", () => {
    const samples = [60, 70, 80, 90, 100, 110].map((r, i) =>
      steady((i + 1) / 6, r, i === 5 ? 40 : 6),
    );
    const verdict = judgeSoak(samples);
    expect(verdict.slopeMbPerMinute).toBeUndefined();
    expect(verdict.failures).toEqual([]);
  });

  it("judges no slope with fewer than three samples in the last half", () => {
    const verdict = judgeSoak([steady(1, 50), steady(2, 90), steady(3, 130), steady(4, 170)]);
    expect(verdict.slopeMbPerMinute).toBeUndefined();
    expect(verdict.failures).toEqual([]);
  });

  it.each([
    { name: "p99 doubling above the floor fails", p99: [50, 6, 6, 6, 13, 13, 13], fails: true },
    { name: "p99 rising 1.5x passes", p99: [50, 8, 8, 8, 12, 12, 12], fails: false },
    {
      name: "p99 under the 5 ms floor never counts as drift",
      p99: [9, 1, 1, 1, 4, 4, 4],
      fails: false,
    },
    {
      name: "the first sample is warm-up, not the baseline",
      p99: [1, 6, 6, 6, 7, 7, 7],
      fails: false,
    },
  ])("$name", ({ p99, fails }) => {
    const verdict = judgeSoak(p99.map((p, i) => steady(i + 1, 100, p)));
    expect(verdict.failures.some((f) => f.startsWith("p99 drifted"))).toBe(fails);
  });
});
