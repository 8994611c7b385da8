import type { ValidationIssue } from "./issue.js";
import { loadManifests, withoutFieldLines } from "./loader.js";
import type { Resource } from "./types.js";
import { validateResources } from "./validate.js";

export interface Configuration {
  readonly resources: Resource[];
  readonly issues: ValidationIssue[];
}

/**
 * Reads the manifests under `paths`, adds `extra`, and validates them all together. A valid
 * configuration comes back without per-field line maps (they only serve messages).
 */
export async function loadConfiguration(
  paths: readonly string[],
  extra: readonly Resource[],
): Promise<Configuration> {
  const loaded = paths.length > 0 ? await loadManifests(paths) : { resources: [], issues: [] };
  const resources = [...loaded.resources, ...extra];
  const issues = [...loaded.issues, ...validateResources(resources)];
  return { resources: issues.length > 0 ? resources : withoutFieldLines(resources), issues };
}
