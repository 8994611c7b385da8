import path from "node:path";
import { expect } from "vitest";
import type { ValidationIssue } from "../../src/resources/issue.js";
import { loadManifests, parseManifests } from "../../src/resources/loader.js";
import type { Resource } from "../../src/resources/types.js";
import { validateConfiguration } from "../../src/runtime/configuration.js";

/** Shared by the validation tests: a valid world to add one broken manifest to. */

export const FIXTURES = path.resolve(import.meta.dirname, "../fixtures/manifests");
export const CASE_FILE = "case.yaml";

let world: Resource[] | undefined;

/** The resources of fixtures/manifests/valid, loaded once per test file. */
export async function validWorld(): Promise<Resource[]> {
  if (!world) {
    const loaded = await loadManifests([path.join(FIXTURES, "valid")]);
    expect(loaded.issues).toEqual([]);
    world = loaded.resources;
  }
  return world;
}

/** Every issue found when `manifest` (YAML text) joins the valid world. */
export async function issuesWith(manifest: string): Promise<ValidationIssue[]> {
  const parsed = parseManifests(manifest, CASE_FILE);
  return [
    ...parsed.issues,
    ...validateConfiguration([...(await validWorld()), ...parsed.resources]),
  ];
}

/**
 * Asserts that adding `manifest` to the valid world reports exactly one problem, at `path`, whose
 * message holds `fragment`, and that the valid world itself stays free of problems.
 */
export async function expectIssue(manifest: string, path: string, fragment: string): Promise<void> {
  const issues = await issuesWith(manifest);
  expect(issues.filter((issue) => issue.file !== CASE_FILE)).toEqual([]);
  // An error, not a warning: a warning would leave the manifests accepted.
  const found = issues.map((issue) => ({
    path: issue.path,
    message: issue.message,
    error: issue.severity === undefined,
  }));
  expect(found).toEqual([{ path, message: expect.stringContaining(fragment), error: true }]);
}

/**
 * Asserts that adding `manifest` to the valid world gives exactly one warning, at `path`, whose
 * message holds `fragment`, and no error: the manifests are accepted.
 */
export async function expectWarning(
  manifest: string,
  path: string,
  fragment: string,
): Promise<void> {
  const issues = await issuesWith(manifest);
  expect(issues.filter((issue) => issue.file !== CASE_FILE)).toEqual([]);
  const found = issues.map((issue) => ({
    path: issue.path,
    message: issue.message,
    severity: issue.severity,
  }));
  expect(found).toEqual([
    { path, message: expect.stringContaining(fragment), severity: "warning" },
  ]);
}

/**
 * A Trigger named `case` on the valid world's default broker; `spec` is more spec lines (2-space
 * indented YAML). A subscriber is added unless `spec` sets one.
 */
export function trigger(spec: string, metadata = ""): string {
  const subscriber = spec.includes("subscriber:")
    ? ""
    : "  subscriber:\n    uri: http://127.0.0.1:9/\n";
  return `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: case
${metadata}spec:
  broker: default
${subscriber}${spec}`;
}
