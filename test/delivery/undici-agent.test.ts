import { createRequire } from "node:module";
import * as undici from "undici";
import { describe, expect, it } from "vitest";
import { Agent } from "../../src/delivery/undici-agent.js";

describe("the undici Agent loaded on its own", () => {
  it("is the class the package exports (undici's file layout still matches the pinned version)", () => {
    expect(Agent).toBe(undici.Agent);
  });

  it("undici is pinned to one exact version in package.json", () => {
    const require = createRequire(import.meta.url);
    const manifest = require("../../package.json") as { dependencies: Record<string, string> };
    const installed = require("undici/package.json") as { version: string };
    expect(manifest.dependencies["undici"]).toBe(installed.version);
  });
});
