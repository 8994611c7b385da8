import { isError, type ValidationIssue } from "../resources/issue.js";
import { loadManifests, withoutFieldLines } from "../resources/loader.js";
import type { Resource } from "../resources/types.js";
import { validateResources } from "../resources/validate.js";
import { checkTransportEncryption } from "../security/tls-features.js";
import { SINK_VALIDATORS } from "../sinks/validators.js";
import { SOURCE_VALIDATORS } from "../sources/validators.js";

export interface Configuration {
  readonly resources: Resource[];
  /** Problems that make the configuration invalid. */
  readonly issues: ValidationIssue[];
  /** What `validate` prints as warnings: the configuration still runs. */
  readonly warnings: ValidationIssue[];
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
  const found = [...loaded.issues, ...validateConfiguration(resources)];
  const issues = found.filter(isError);
  const warnings = found.filter((issue) => !isError(issue));
  return {
    resources: issues.length > 0 ? resources : withoutFieldLines(resources),
    issues,
    warnings,
  };
}

/**
 * Validates resources with every rule there is: the resource model's and each source and sink
 * kind's. Warnings come back among the issues (see isError).
 */
export function validateConfiguration(resources: readonly Resource[]): ValidationIssue[] {
  return validateResources(resources, {
    rules: { ...SOURCE_VALIDATORS, ...SINK_VALIDATORS, ConfigMap: checkTransportEncryption },
  });
}
