import { randomUUID } from "node:crypto";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatIssue } from "../../src/resources/issue.js";
import { loadManifests } from "../../src/resources/loader.js";
import { validateResources } from "../../src/resources/validate.js";
import { signatureOf } from "../../src/sources/github/signature.js";
import { SOURCE_VALIDATORS } from "../../src/sources/validators.js";
import { startWithManifests } from "../support/sink.js";
import { post } from "./harness.js";

const EXAMPLES = ["github", "kafka-source", "apiserver", "container", "mq-trigger"];

describe("source examples", () => {
  it.each(EXAMPLES)("examples/%s loads and validates without a problem", async (name) => {
    const loaded = await loadManifests([path.join("examples", name)]);
    const issues = [
      ...loaded.issues,
      ...validateResources(loaded.resources, { rules: SOURCE_VALIDATORS }),
    ];
    expect(issues.map(formatIssue)).toEqual([]);
    expect(loaded.resources.length).toBeGreaterThan(0);
  });

  it("examples/github serves its webhook: a push signed with the example's secret is accepted", async () => {
    const running = await startWithManifests("", { paths: ["examples/github"] });
    try {
      const body = JSON.stringify({
        ref: "refs/heads/main",
        compare: "https://github.com/acme/widgets/compare/a...b",
      });
      const headers = {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": randomUUID(),
      };
      const wrong = await post(`${running.url}/sources/default/widgets`, body, {
        ...headers,
        "x-hub-signature-256": signatureOf("sha256", "not-the-secret", Buffer.from(body)),
      });
      expect(wrong.status).toBe(401);
      const right = await post(`${running.url}/sources/default/widgets`, body, {
        ...headers,
        "x-hub-signature-256": signatureOf("sha256", "change-me", Buffer.from(body)),
      });
      expect(right.status).toBe(202);
    } finally {
      await running.close();
    }
  });
});
