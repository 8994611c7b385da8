/**
 * Whether a bench run passes: a scenario that failed (its target did not start, no event got
 * through, an exception) fails the run; one skipped because its engine is absent passes outside
 * CI, with the reason printed, and fails in CI, where every engine is provided. The goals are
 * reported, never enforced.
 */
import type { ScenarioResult } from "./run-scenario.js";

export interface BenchVerdict {
  readonly exitCode: 0 | 1;
  /** One line per scenario that failed or was skipped, naming it and saying why. */
  readonly lines: readonly string[];
}

export function benchVerdict(
  results: readonly Pick<ScenarioResult, "id" | "failed" | "skipped">[],
  options: { readonly ci: boolean },
): BenchVerdict {
  const lines: string[] = [];
  let failed = false;
  for (const result of results) {
    if (result.failed !== undefined) {
      failed = true;
      lines.push(`bench: scenario ${result.id} failed: ${result.failed}`);
    } else if (result.skipped !== undefined) {
      failed ||= options.ci;
      lines.push(
        options.ci
          ? `bench: scenario ${result.id} skipped in CI, where its engine must be present: ${result.skipped}`
          : `bench: scenario ${result.id} skipped: ${result.skipped}`,
      );
    }
  }
  return { exitCode: failed ? 1 : 0, lines };
}
