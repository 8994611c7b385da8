import type { ValidationIssue } from "../resources/issue.js";
import { loadManifests, withoutFieldLines } from "../resources/loader.js";
import type { Resource } from "../resources/types.js";
import { validateResources } from "../resources/validate.js";
import { SECURITY_VALIDATORS } from "../security/validators.js";
import { SOURCE_VALIDATORS } from "../sources/validators.js";

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
  const issues = [...loaded.issues, ...validateConfiguration(resources)];
  return { resources: issues.length > 0 ? resources : withoutFieldLines(resources), issues };
}

/** Validates resources with every rule there is: the resource model's and each source kind's. */
export function validateConfiguration(resources: readonly Resource[]): ValidationIssue[] {
  return validateResources(resources, { rules: { ...SOURCE_VALIDATORS, ...SECURITY_VALIDATORS } });
}
