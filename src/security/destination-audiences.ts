import { resolveDestination } from "../resources/addresses.js";
import type { Destination, Resource } from "../resources/types.js";

/**
 * Destinations that name an `audience` (Knative: the audience of a `uri` destination), by the
 * URL they resolve to, found wherever a spec holds one.
 */
export function explicitAudiences(
  resources: readonly Resource[],
  baseUrl: string,
): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (value: unknown, namespace: string, depth: number): void => {
    if (depth > 12 || typeof value !== "object" || value === null) return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item, namespace, depth + 1);
      return;
    }
    const fields = value as Record<string, unknown>;
    if (
      typeof fields["audience"] === "string" &&
      (fields["uri"] !== undefined || fields["ref"] !== undefined)
    ) {
      try {
        const url = resolveDestination(fields as unknown as Destination, namespace, baseUrl);
        if (!found.has(url)) found.set(url, fields["audience"]);
      } catch {
        // Validation reports destinations that do not resolve.
      }
    }
    for (const child of Object.values(fields)) visit(child, namespace, depth + 1);
  };
  for (const resource of resources) {
    if (resource.kind !== "ConfigMap" && resource.kind !== "Secret") {
      visit(resource.spec, resource.metadata.namespace, 0);
    }
  }
  return found;
}
