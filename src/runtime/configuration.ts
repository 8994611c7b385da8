import { isInertKind } from "../resources/inert-kinds.js";
import { errorsOf, isWarning, type ValidationIssue } from "../resources/issue.js";
import { loadManifests, withoutFieldLines } from "../resources/loader.js";
import type { ServiceFlags } from "../resources/services.js";
import type { Resource } from "../resources/types.js";
import { validateResources } from "../resources/validate.js";
import { SECURITY_VALIDATORS } from "../security/validators.js";
import { SINK_VALIDATORS } from "../sinks/validators.js";
import { SOURCE_VALIDATORS } from "../sources/validators.js";

export interface Configuration {
  readonly resources: Resource[];
  /** The errors: any of them refuses the configuration. */
  readonly issues: ValidationIssue[];
  /** What runs, but not as on a cluster; logged, never refusing. */
  readonly warnings: ValidationIssue[];
}

/**
 * Reads the manifests under `paths`, adds `extra`, and validates them all together. A valid
 * configuration comes back without per-field line maps (they only serve messages).
 */
export async function loadConfiguration(
  paths: readonly string[],
  extra: readonly Resource[],
  services?: ServiceFlags,
): Promise<Configuration> {
  const loaded = paths.length > 0 ? await loadManifests(paths) : { resources: [], issues: [] };
  const all = [...loaded.resources, ...extra];
  const found = [...loaded.issues, ...validateConfiguration(all, services)];
  const issues = errorsOf(found);
  const warnings = found.filter(isWarning);
  // Inert documents (a Service, a Deployment) were validated for their warning; nothing runs them.
  const resources = all.filter((r) => !isInertKind(r.apiVersion, r.kind));
  return {
    resources: issues.length > 0 ? resources : withoutFieldLines(resources),
    issues,
    warnings,
  };
}

/**
 * Validates resources with every rule there is: the resource model's and each source and sink kind's.
 * Returns errors and warnings (ValidationIssue.severity) together.
 */
export function validateConfiguration(
  resources: readonly Resource[],
  services?: ServiceFlags,
): ValidationIssue[] {
  return validateResources(resources, {
    rules: { ...SOURCE_VALIDATORS, ...SINK_VALIDATORS, ...SECURITY_VALIDATORS },
    ...(services ? { services } : {}),
  });
}
