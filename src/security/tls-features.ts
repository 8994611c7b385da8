/**
 * `transport-encryption` of Knative's `config-features` ConfigMap (namespace knative-eventing):
 * disabled (default), permissive, strict. A small accessor of its own so TLS does not wait on
 * the typed reader of every feature; the two read the same ConfigMap the same way.
 */
import type { Check, Fields } from "../resources/rules/check.js";
import type { Resource } from "../resources/types.js";

export const FEATURES_NAMESPACE = "knative-eventing";
export const FEATURES_NAME = "config-features";
export const TRANSPORT_ENCRYPTION = "transport-encryption";

export const TRANSPORT_MODES = ["disabled", "permissive", "strict"] as const;
export type TransportEncryption = (typeof TRANSPORT_MODES)[number];

/** Knative compares feature values case-insensitively. */
export function parseTransportEncryption(
  value: string | undefined,
): TransportEncryption | undefined {
  if (value === undefined) return "disabled";
  const mode = value.trim().toLowerCase();
  return (TRANSPORT_MODES as readonly string[]).includes(mode)
    ? (mode as TransportEncryption)
    : undefined;
}

function isFeatures(resource: Resource): boolean {
  return (
    resource.kind === "ConfigMap" &&
    resource.metadata.namespace === FEATURES_NAMESPACE &&
    resource.metadata.name === FEATURES_NAME
  );
}

/**
 * The mode the resources set. A value validation would refuse never gets this far; should one
 * anyway, the strictest reading is the safe one.
 */
export function transportEncryptionOf(resources: Iterable<Resource>): TransportEncryption {
  for (const resource of resources) {
    if (!isFeatures(resource)) continue;
    return parseTransportEncryption(resource.data?.[TRANSPORT_ENCRYPTION]) ?? "strict";
  }
  return "disabled";
}

/** Validation rule for ConfigMaps: an unknown mode is an error, not a silent "disabled". */
export function checkTransportEncryption(check: Check, _spec: Fields): void {
  if (!isFeatures(check.resource)) return;
  const value = check.resource.data?.[TRANSPORT_ENCRYPTION];
  if (parseTransportEncryption(value) === undefined) {
    check.report(
      `data.${TRANSPORT_ENCRYPTION}`,
      `${JSON.stringify(value)} is not a transport-encryption mode (${TRANSPORT_MODES.join(", ")})`,
    );
  }
}
