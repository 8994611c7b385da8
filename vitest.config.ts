import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests bind real ports and talk to shared engines; keep files in separate workers.
    pool: "forks",
    globalSetup: ["test/support/global-setup.ts"],
  },
});
