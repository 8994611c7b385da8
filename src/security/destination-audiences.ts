import { resolveDestination } from "../resources/addresses.js";
import type { Destination, Resource } from "../resources/types.js";
import { API_AUDIENCE } from "./api-guard.js";

/** The key of a destination's audience: the namespace that names it, and the URL. */
export function audienceKey(namespace: string, url: string): string {
  return `${namespace}\u0000${url}`;
}

/**
 * Destinations that name an `audience` (Knative: the audience of a `uri` destination), by the
 * namespace that names them and the URL they resolve to (audienceKey), found wherever a spec
 * holds one. Keyed by namespace: one namespace's manifest must not set the audience of another
 * namespace's deliveries to the same URL. The operations API's audience is never taken: a
 * delivery token for it would open the API to whoever can create a Trigger.
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
      fields["audience"] !== API_AUDIENCE &&
      (fields["uri"] !== undefined || fields["ref"] !== undefined)
    ) {
      try {
        const url = resolveDestination(fields as unknown as Destination, namespace, baseUrl);
        const key = audienceKey(namespace, url);
        if (!found.has(key)) found.set(key, fields["audience"]);
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
