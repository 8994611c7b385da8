/**
 * The only tests that may be skipped in CI (CI=true), each with why it cannot run there. The CI
 * skip reporter fails the run for any other skip, and prints these reasons.
 */
export interface AllowedSkip {
  /** The test file, relative to the repository root. */
  readonly file: string;
  /** The test's full name: its describe blocks and its own name, joined by " > ". */
  readonly test: string;
  readonly reason: string;
}

export const ALLOWED_SKIPS: readonly AllowedSkip[] = [
  {
    file: "test/resources/loader.test.ts",
    test: "loadManifests: finding files > unreadable files > reports a file it may not read",
    reason: "CI runs as root, and root reads a file of mode 000: no permission can be denied to it",
  },
];
