import { describe, expect, it } from "vitest";
import type { ScenarioResult } from "../../bench/run-scenario.js";
import { benchVerdict } from "../../bench/verdict.js";

/** `npm run bench -- --quick` is CI's smoke test: a scenario that fails must fail the run. */

type Row = Pick<ScenarioResult, "id" | "failed" | "skipped">;

const measured: Row = { id: "memory-1" };
const crashed: Row = { id: "redis-1", failed: "eventail did not start on redis: exit 1" };
const absent: Row = {
  id: "nats-1",
  skipped: "no NATS (NATS_URL unset, nothing on 127.0.0.1:4222)",
};

describe("bench verdict", () => {
  it.each<[string, Row[], boolean, 0 | 1]>([
    ["every scenario measured passes, in CI too", [measured], true, 0],
    ["a failed scenario fails the run outside CI", [measured, crashed], false, 1],
    ["a failed scenario fails the run in CI", [measured, crashed], true, 1],
    ["an absent engine outside CI passes", [measured, absent], false, 0],
    ["an absent engine in CI fails: CI provides every engine", [measured, absent], true, 1],
    ["nothing run passes", [], true, 0],
  ])("%s", (_name, results, ci, exitCode) => {
    expect(benchVerdict(results, { ci }).exitCode).toBe(exitCode);
  });

  it("names the failed scenario and its error on one line", () => {
    expect(benchVerdict([measured, crashed], { ci: false }).lines).toEqual([
      "bench: scenario redis-1 failed: eventail did not start on redis: exit 1",
    ]);
  });

  it("prints why a scenario was skipped, and says so when CI counts it as a failure", () => {
    expect(benchVerdict([absent], { ci: false }).lines).toEqual([
      "bench: scenario nats-1 skipped: no NATS (NATS_URL unset, nothing on 127.0.0.1:4222)",
    ]);
    expect(benchVerdict([absent], { ci: true }).lines[0]).toMatch(
      /^bench: scenario nats-1 skipped in CI, where its engine must be present: no NATS/,
    );
  });

  it("a scenario with figures says nothing", () => {
    expect(benchVerdict([measured], { ci: true }).lines).toEqual([]);
  });
});
