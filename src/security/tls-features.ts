/**
 * `transport-encryption` of Knative's `config-features` (read by resources/features.ts, the one
 * reader of that ConfigMap), as TLS serving and outbound delivery need it.
 */
import { type Features, isFeaturesConfigMap, readFeatures } from "../resources/features.js";
import type { Resource } from "../resources/types.js";

export type TransportEncryption = Features["transport-encryption"];

/** The mode the resources set (validation has refused a value that is not a mode). */
export function transportEncryptionOf(resources: Iterable<Resource>): TransportEncryption {
  for (const resource of resources) {
    if (isFeaturesConfigMap(resource)) return readFeatures(resource.data)["transport-encryption"];
  }
  return "disabled";
}
