/**
 * In CI (CI=true) a skipped test is a failure unless test/support/allowed-skips.ts says why it
 * cannot run there: a prerequisite that quietly went missing (an engine, dist/) must not turn into
 * a green run. Outside CI skips pass as before. A run narrowed by -t skips the other tests on
 * purpose, so it is not checked.
 */
import path from "node:path";
import type { Reporter, TestModule, Vitest } from "vitest/node";
import { ALLOWED_SKIPS } from "./allowed-skips.js";

export interface SkippedTest {
  readonly file: string;
  readonly test: string;
  /** What `ctx.skip(note)` said, if anything. */
  readonly note?: string;
}

/** The skips no allow-list entry explains, and the explained ones with their reasons. */
export function judgeSkips(
  skipped: readonly SkippedTest[],
  allowed = ALLOWED_SKIPS,
): { unexplained: SkippedTest[]; explained: Array<SkippedTest & { reason: string }> } {
  const unexplained: SkippedTest[] = [];
  const explained: Array<SkippedTest & { reason: string }> = [];
  for (const skip of skipped) {
    const entry = allowed.find((a) => a.file === skip.file && a.test === skip.test);
    if (entry) explained.push({ ...skip, reason: entry.reason });
    else unexplained.push(skip);
  }
  return { unexplained, explained };
}

export default class CiSkipReporter implements Reporter {
  private root = process.cwd();
  private narrowed = false;

  onInit(vitest: Vitest): void {
    this.root = vitest.config.root;
    this.narrowed = vitest.config.testNamePattern !== undefined;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    if (process.env["CI"] !== "true" || this.narrowed) return;
    const skipped: SkippedTest[] = [];
    for (const module of modules) {
      const file = path.relative(this.root, module.moduleId).split(path.sep).join("/");
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state !== "skipped") continue;
        skipped.push({ file, test: test.fullName, ...(result.note ? { note: result.note } : {}) });
      }
    }
    const { unexplained, explained } = judgeSkips(skipped);
    const out = process.stderr;
    for (const skip of explained) {
      out.write(`skipped in CI (allowed): ${skip.file} > ${skip.test}: ${skip.reason}\n`);
    }
    if (unexplained.length === 0) return;
    out.write(
      `\n${unexplained.length} test(s) skipped in CI without a reason in test/support/allowed-skips.ts:\n`,
    );
    for (const skip of unexplained) {
      out.write(`  ${skip.file} > ${skip.test}${skip.note ? ` (${skip.note})` : ""}\n`);
    }
    process.exitCode = 1;
  }
}
