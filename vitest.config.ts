import { defineConfig } from "vitest/config";

// Unit tests need no engine; integration tests get Redis, NATS and a Kafka peer from the global
// setup (which starts local binaries when nothing answers, and fails in CI when it cannot).
const UNIT = [
  "test/events/**/*.test.ts",
  "test/triggers/**/*.test.ts",
  "test/resources/**/*.test.ts",
  "test/delivery/**/*.test.ts",
  "test/server/**/*.test.ts",
  "test/broker/**/*.test.ts",
  "test/observability/**/*.test.ts",
  "test/bench/**/*.test.ts",
  "test/sources/ping/**/*.test.ts",
  "test/sources/github/signature.test.ts",
  "test/sources/kafka/record-event.test.ts",
  "test/sources/validators.test.ts",
];

// Each writes a large journey backlog to its engine (NATS ~94 MB), and every journey reader of
// that engine reads each journey stream's tail: beside them, journey tests of other files timed
// out on a busy machine. They run after every other file.
const BACKLOG = ["test/backing/*/journeys-backlog.*.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // In CI a skip fails the run unless test/support/allowed-skips.ts says why (see the reporter).
    reporters: ["default", "./test/support/ci-skip-reporter.ts"],
    // Most integration time is spent waiting on engines (group joins, reclaim idle, backoff), not
    // on CPU: three files at once on two cores keeps CI well under its time budget.
    maxWorkers: 3,
    projects: [
      { extends: true, test: { name: "unit", include: UNIT, sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: [...UNIT, ...BACKLOG],
          globalSetup: ["test/support/global-setup.ts"],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "backlog",
          include: BACKLOG,
          globalSetup: ["test/support/global-setup.ts"],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
